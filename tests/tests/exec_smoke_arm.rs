use lil_codegen::{Backend, HostEnv, ThreadPointer};
use lil_machine::{HostSig, Machine, Value, ThreadPointerAccess};
use lil_emu::Arm64Emulator;
use lil_syntax::Type;

fn env(m: &dyn Machine) -> HostEnv {
    HostEnv::new(match m.thread_pointer_access() { ThreadPointerAccess::TlsSlot { offset } => ThreadPointer::TlsSlot { offset }, ThreadPointerAccess::Call { function } => ThreadPointer::Call { function } }, 8)
}

#[test]
fn add_arm() {
    let mut m = Arm64Emulator::new().unwrap();
    let stub = lil_check::assert_valid("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;");
    let code = lil_codegen_arm64::Arm64Backend.compile(&stub, &env(&m)).unwrap();
    let addr = m.install(&code.code).unwrap();
    let r = m.call(addr, &HostSig::new(&[Type::G8, Type::G8], Some(Type::G8)), &[Value::int(Type::G8, 40), Value::int(Type::G8, 2)]).unwrap();
    assert_eq!(r.unwrap().bits, 42);
}

#[test]
fn figure1_arm() {
    let mut m = Arm64Emulator::new().unwrap();
    let thread = m.alloc(64, 16).unwrap();
    let heap = m.alloc(4096, 16).unwrap();
    m.write_u64(thread + 16, heap).unwrap();
    m.write_u64(thread + 24, heap + 4096).unwrap();
    m.set_thread_pointer(thread).unwrap();
    let slow = m.host_fn(HostSig::new(&[Type::G4, Type::Pint], Some(Type::Ref)), Box::new(|c| Some(Value::pint(0xdead0000 + c.arg(0).bits)))).unwrap();
    let text = format!("entry 0:managed:g4,pint:ref;
locals 3;
l0 = ts;
ld r, [l0+16:ref];
ld l1, [l0+24:pint];
l2 = zx4 i0;
l2 = r:pint + l2;
jc l2 >u l1, slowpath;
st [r+0:pint], i1;
st [l0+16:pint], l2;
ret;
:slowpath;
push_m2n 0;
in2out platform:ref;
call {slow};
pop_m2n;
ret;");
    let stub = lil_check::assert_valid(&text);
    let code = lil_codegen_arm64::Arm64Backend.compile(&stub, &env(&m)).unwrap();
    let addr = m.install(&code.code).unwrap();
    let sig = HostSig::new(&[Type::G4, Type::Pint], Some(Type::Ref));
    let o1 = m.call(addr, &sig, &[Value::int(Type::G4, 32), Value::pint(0x1234)]).unwrap().unwrap();
    assert_eq!(o1.bits, heap);
    assert_eq!(m.read_u64(heap).unwrap(), 0x1234);
    assert_eq!(m.read_u64(thread + 16).unwrap(), heap + 32);
    let o2 = m.call(addr, &sig, &[Value::int(Type::G4, 5000), Value::pint(0x1234)]).unwrap().unwrap();
    assert_eq!(o2.bits, 0xdead0000 + 5000);
    assert_eq!(m.read_u64(thread + 8).unwrap(), 0);
}
