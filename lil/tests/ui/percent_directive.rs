fn main() {
    let _ = lil::lil_parse!("entry 0:platform::void; r = %0i; ret;");
}
