use lil::lil_parse;
use lil::syntax::{Stub, SyntaxErrors};

fn stub() -> Result<Stub, SyntaxErrors> {
    let stub = lil_parse!("entry 0:platform::void; frob l0; ret;")?;
    Ok(stub)
}

fn main() {
    let _ = stub();
}
