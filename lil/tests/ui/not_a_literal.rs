fn main() {
    let text = "entry 0:platform::void; ret;";
    let _ = lil::lil_parse!(text);
}
