fn main() {
    let _ = lil::lil_parse!(
        "entry 0:platform:pint:void;
         locals 1;
         ld l0, [i0+8:pint]
         ret;"
    );
}
