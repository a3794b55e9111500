fn main() {
    let _ = lil::lil_parse!("entry 0:platform:pint:void; ld l0, [i0+");
}
