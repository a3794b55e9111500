use lil::lil_parse;
use lil::syntax::{Stub, SyntaxErrors};

fn stub() -> Result<Stub, SyntaxErrors> {
    let stub = lil_parse!("entry 0:platform::void; r = {}; ret;", 1, 2, size = 16)?;
    Ok(stub)
}

fn main() {
    let _ = stub();
}
