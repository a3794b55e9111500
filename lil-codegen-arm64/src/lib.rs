//! The AArch64 backend (in progress).

use lil_codegen::{Backend, CheckedStub, CodegenError, CompiledStub, HostEnv, Target, TargetDesc};

/// The AArch64 code generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct Arm64Backend;

impl Backend for Arm64Backend {
    fn target(&self) -> Target {
        Target::Arm64
    }
    fn desc(&self) -> &'static TargetDesc {
        unimplemented!("in progress")
    }
    fn compile(&self, _stub: &CheckedStub, _env: &HostEnv) -> Result<CompiledStub, CodegenError> {
        Err(CodegenError::Internal("the AArch64 backend is being written"))
    }
}
