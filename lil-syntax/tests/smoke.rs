use lil_syntax::*;

const FIGURE1: &str = "entry 0:managed:g4,pint:ref;
locals 3;
l0=ts;
ld r,[l0+8:ref];
ld l1,[l0+16:pint];
l2=r:pint+i0;
jc l2 >u l1,slowpath;
st [r+0:pint],i1;
st [l0+8:pint],l2;
ret;
:slowpath;
push_m2n 0;
in2out platform:ref;
call 0x1234;
pop_m2n;
ret;";

#[test]
fn figure1() {
    let s = parse(FIGURE1).unwrap();
    println!("{s}");
    assert_eq!(parse(&s.to_string()).unwrap(), s);
    assert_eq!(s.body.len(), 15);
}
