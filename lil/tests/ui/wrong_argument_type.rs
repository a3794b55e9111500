fn main() {
    let _ = lil::lil_parse!("entry 0:platform::void; r = {x}; ret;", x = 1.5);
}
