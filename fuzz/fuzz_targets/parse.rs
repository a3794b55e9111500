//! Arbitrary bytes through the parser: no panic; what parses prints in
//! canonical form, parses back to an equal stub, and prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match lil_syntax::parse_bytes(data) {
        Ok(stub) => {
            let text = stub.to_string();
            let again = match lil_syntax::parse(&text) {
                Ok(s) => s,
                Err(e) => panic!(
                    "the printed stub does not parse:\n{}\n{text}",
                    e.render("printed", &text)
                ),
            };
            assert_eq!(again, stub, "print/parse changed the stub:\n{text}");
            assert_eq!(again.to_string(), text, "printing is not stable");
        }
        Err(e) => {
            if let Ok(text) = std::str::from_utf8(data) {
                let _ = e.render("fuzz", text);
            }
        }
    }
});
