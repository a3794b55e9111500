//! Per-class stubs from templates: what a JIT uses when it generates a stub
//! for every class it type-tests or allocates.
//!
//! The per-class generators ([`crate::typecheck::instanceof_for_class`],
//! [`crate::alloc::new_object_for_class`], ...) build, check and compile a
//! stub per class: microseconds each. [`PerClassTemplates`] compiles each
//! shape once per VM and target, with the class's constants (superclass
//! table slot, class pointer, instance size, vtable) left as holes; a class's
//! stub is then a copy of the template's code with its constants written in
//! (see `lil::template`): it behaves as the per-class generator's stub
//! does, in code of the general form (constants in full-width fields).
//!
//! ```
//! # #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))] {
//! use lil::{HostEnv, Jit};
//! use lil_stubs::{ClassInfo, VmLayout, per_class::PerClassTemplates};
//!
//! let vm = VmLayout::example();
//! let jit = Jit::new(HostEnv::default())?;
//! let templates = PerClassTemplates::new(&vm, jit.target(), jit.env())?;
//! let string = ClassInfo {
//!     class: 0x7f00_0000_4000,
//!     depth: 2,
//!     is_interface: false,
//!     vtable: 0x7f00_0000_5000,
//!     instance_size: 24,
//! };
//! let is_string = templates.instanceof(&string).install(&jit, Some("instanceof_String"))?;
//! assert!(jit.cache().contains(is_string.addr()));
//! # }
//! # Ok::<(), lil_stubs::GenError>(())
//! ```

use lil::template::{Hole, Template};
use lil::{CompiledStub, HostEnv, Jit, Target};
use lil_codegen::InstalledCode;

use crate::alloc::{align_up, new_object_stub};
use crate::typecheck::{
    checkcast_interface, checkcast_table, instanceof_interface, instanceof_table, table_slot,
};
use crate::{ClassInfo, GenError, VmLayout};

/// The per-class stub templates of one VM, for one target.
#[derive(Clone, Debug)]
pub struct PerClassTemplates {
    vm: VmLayout,
    instanceof_table: Template,
    instanceof_interface: Template,
    checkcast_table: Template,
    checkcast_interface: Template,
    new_object: Template,
}

/// One class's stub: a template and the values of its holes.
#[derive(Clone, Copy, Debug)]
pub struct Instance<'t> {
    template: &'t Template,
    values: [i64; 3],
    len: usize,
}

impl Instance<'_> {
    /// The template.
    pub fn template(&self) -> &Template {
        self.template
    }

    /// The values of its holes.
    pub fn values(&self) -> &[i64] {
        &self.values[..self.len]
    }

    /// The stub's code.
    pub fn instantiate(&self) -> Result<CompiledStub, lil::Error> {
        self.template.instantiate(self.values())
    }

    /// Install the stub into `jit`'s code cache (free it with
    /// [`Jit::free_code`]). The name is for debuggers and profilers.
    pub fn install(&self, jit: &Jit, name: Option<&str>) -> Result<InstalledCode, lil::Error> {
        jit.install_template(self.template, self.values(), name)
    }
}

impl PerClassTemplates {
    /// Compile every per-class template of `vm` for `target`.
    pub fn new(
        vm: &VmLayout,
        target: Target,
        env: &HostEnv,
    ) -> Result<PerClassTemplates, GenError> {
        let make = |holes: &[Hole],
                    build: &dyn Fn(
            &[i64],
        )
            -> Result<lil_syntax::Stub, lil_syntax::SyntaxErrors>| {
            Template::new(target, env, holes, |v| {
                Ok(lil_check::check_owned(build(v)?)?)
            })
        };
        let table = [Hole::Offset, Hole::Word];
        Ok(PerClassTemplates {
            vm: *vm,
            instanceof_table: make(&table, &|v| instanceof_table(vm, v[0], v[1]))?,
            instanceof_interface: make(&[Hole::Word], &|v| instanceof_interface(vm, v[0]))?,
            checkcast_table: make(&table, &|v| checkcast_table(vm, v[0], v[1]))?,
            checkcast_interface: make(&[Hole::Word], &|v| checkcast_interface(vm, v[0]))?,
            // The size is both a 64-bit addend and the g4 argument of the
            // slow path: one value, two holes.
            new_object: make(&[Hole::Word, Hole::Word, Hole::Imm32], &|v| {
                new_object_stub(vm, v[0], v[1], v[2])
            })?,
        })
    }

    /// The `instanceof` stub of `class` (as [`crate::typecheck::instanceof_for_class`]).
    pub fn instanceof(&self, class: &ClassInfo) -> Instance<'_> {
        match table_slot(&self.vm, class) {
            Some(slot) => instance(&self.instanceof_table, &[slot, class.class as i64]),
            None => instance(&self.instanceof_interface, &[class.class as i64]),
        }
    }

    /// The `checkcast` stub of `class` (as [`crate::typecheck::checkcast_for_class`]).
    pub fn checkcast(&self, class: &ClassInfo) -> Instance<'_> {
        match table_slot(&self.vm, class) {
            Some(slot) => instance(&self.checkcast_table, &[slot, class.class as i64]),
            None => instance(&self.checkcast_interface, &[class.class as i64]),
        }
    }

    /// The allocation stub of `class` (as [`crate::alloc::new_object_for_class`]).
    pub fn new_object(&self, class: &ClassInfo) -> Result<Instance<'_>, GenError> {
        let size = align_up(u64::from(class.instance_size), self.vm.object.alignment)?;
        let size = size as i64;
        Ok(instance(
            &self.new_object,
            &[size, class.vtable as i64, size],
        ))
    }
}

fn instance<'t>(template: &'t Template, values: &[i64]) -> Instance<'t> {
    let mut all = [0; 3];
    all[..values.len()].copy_from_slice(values);
    Instance {
        template,
        values: all,
        len: values.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::new_object_for_class;
    use crate::typecheck::{checkcast_for_class, instanceof_for_class};
    use lil_machine::{HostSig, Machine, ThreadPointerAccess, Value};
    use lil_syntax::Type::{G4, Ref};

    fn machines() -> Vec<(Target, Box<dyn Machine>)> {
        let mut out: Vec<(Target, Box<dyn Machine>)> = vec![(
            Target::Arm64,
            Box::new(lil_emu::Arm64Emulator::new().unwrap()),
        )];
        if cfg!(target_arch = "x86_64") {
            out.push((
                Target::X64,
                Box::new(lil_machine::native::NativeMachine::new().unwrap()),
            ));
        }
        out
    }

    fn env_for(m: &dyn Machine) -> HostEnv {
        let tp = match m.thread_pointer_access() {
            ThreadPointerAccess::TlsSlot { offset } => {
                lil_codegen::ThreadPointer::TlsSlot { offset }
            }
            ThreadPointerAccess::Call { function } => lil_codegen::ThreadPointer::Call { function },
        };
        HostEnv::new(tp, 8)
    }

    /// The type tests' and the allocator's fast paths give the same answers
    /// from an instance as from the per-class generator's full compile, on
    /// both targets, for classes at every depth of the superclass table.
    #[test]
    fn instances_behave_like_full_compiles() {
        let vm = VmLayout::example();
        for (target, mut m) in machines() {
            let env = env_for(m.as_ref());
            let t = PerClassTemplates::new(&vm, target, &env).unwrap();
            let backend = lil::backend(target);
            let install_full = |m: &mut dyn Machine, stub: &lil_check::CheckedStub| {
                m.install(&backend.compile(stub, &env).unwrap().code)
                    .unwrap()
            };
            // Classes C1 (depth 1) .. C8 (depth 8), each extending the last;
            // object k is an instance of C(k+1).
            let classes: Vec<ClassInfo> = (1..=8u32)
                .map(|depth| ClassInfo {
                    class: 0x10_0000 * u64::from(depth) + 0x7f00_0000_0000,
                    depth,
                    is_interface: false,
                    vtable: 0,
                    instance_size: 8 * depth + 4,
                })
                .collect();
            let mut objects = Vec::new();
            for (k, _) in classes.iter().enumerate() {
                let vtable = m.alloc(128, 16).unwrap();
                for (j, ancestor) in classes[..=k].iter().enumerate() {
                    let slot = vm.vtable.superclasses as u64 + 8 * j as u64;
                    m.write_u64(vtable + slot, ancestor.class).unwrap();
                }
                let object = m.alloc(64, 16).unwrap();
                m.write_u64(object + vm.object.vtable as u64, vtable)
                    .unwrap();
                objects.push(object);
            }
            let test = HostSig::new(&[Ref], Some(G4));
            let cast = HostSig::new(&[Ref], Some(Ref));
            for class in &classes {
                let from_template = m
                    .install(&t.instanceof(class).instantiate().unwrap().code)
                    .unwrap();
                let full = install_full(m.as_mut(), &instanceof_for_class(&vm, class).unwrap());
                let cast_template = m
                    .install(&t.checkcast(class).instantiate().unwrap().code)
                    .unwrap();
                let cast_full = install_full(m.as_mut(), &checkcast_for_class(&vm, class).unwrap());
                for &object in objects.iter().chain([&0]) {
                    let arg = [Value::int(Ref, object)];
                    let a = m
                        .call(from_template, &test, &arg)
                        .unwrap()
                        .map(Value::normalized);
                    let b = m.call(full, &test, &arg).unwrap().map(Value::normalized);
                    assert_eq!(a, b, "{target} instanceof depth {}", class.depth);
                    // Only casts that succeed: a failing cast throws into the VM.
                    if b == Some(Value::int(G4, 1)) || object == 0 {
                        let a = m.call(cast_template, &cast, &arg).unwrap();
                        let b = m.call(cast_full, &cast, &arg).unwrap();
                        assert_eq!(a, b, "{target} checkcast depth {}", class.depth);
                        assert_eq!(a, Some(Value::int(Ref, object)));
                    }
                }
            }
            // Allocation: the fast path bumps the frontier by the aligned size
            // and installs the vtable.
            let thread = m.alloc(256, 16).unwrap();
            m.set_thread_pointer(thread).unwrap();
            let heap = m.alloc(4096, 16).unwrap();
            for class in &classes {
                let class = ClassInfo {
                    vtable: 0x7f00_0000_9000 + u64::from(class.depth),
                    ..*class
                };
                let from_template = m
                    .install(&t.new_object(&class).unwrap().instantiate().unwrap().code)
                    .unwrap();
                let full = install_full(m.as_mut(), &new_object_for_class(&vm, &class).unwrap());
                let mut results = Vec::new();
                for stub in [from_template, full] {
                    m.write_u64(thread + vm.thread.tlab_frontier as u64, heap)
                        .unwrap();
                    m.write_u64(thread + vm.thread.tlab_limit as u64, heap + 4096)
                        .unwrap();
                    let obj = m.call(stub, &HostSig::new(&[], Some(Ref)), &[]).unwrap();
                    let frontier = m.read_u64(thread + vm.thread.tlab_frontier as u64).unwrap();
                    let vtable = m.read_u64(heap + vm.object.vtable as u64).unwrap();
                    results.push((obj, frontier - heap, vtable));
                }
                assert_eq!(
                    results[0], results[1],
                    "{target} new_object depth {}",
                    class.depth
                );
                assert_eq!(results[0].2, class.vtable);
            }
        }
    }
}
