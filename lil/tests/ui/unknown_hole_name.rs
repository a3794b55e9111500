fn main() {
    let offset = 8;
    let _ = lil::lil_parse!("entry 0:platform:pint:void; ld r, [i0+{ofset}:pint]; ret;");
    let _ = offset;
}
