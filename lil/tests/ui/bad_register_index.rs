fn main() {
    let _ = lil::lil_parse!("entry 0:platform::void; l0 = l99999999999999999999; ret;");
}
