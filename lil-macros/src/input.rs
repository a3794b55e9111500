//! What `lil_parse!` is given: `[crate = path,] "text" [, positional]* [, name = expr]*`.
//!
//! The argument grammar is `format!`'s: positional arguments first, then
//! named ones, a trailing comma allowed. Every failure is a `syn::Error`
//! located at the offending tokens.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

/// One named argument, `name = expr`.
pub(crate) struct NamedArgument {
    /// The name holes refer to.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// The parsed macro input.
pub(crate) struct MacroInput {
    /// Path of the `lil_syntax` crate: `::lil::syntax` unless `crate = path,` was given.
    pub krate: TokenStream,
    /// The LIL text.
    pub text: LitStr,
    /// Arguments for `{}` and `{N}`, in order.
    pub positional: Vec<Expr>,
    /// Arguments for `{name}`, in order.
    pub named: Vec<NamedArgument>,
}

impl Parse for MacroInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<MacroInput> {
        let krate = if input.peek(Token![crate]) && input.peek2(Token![=]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            let path = syn::Path::parse_mod_style(input)?;
            input.parse::<Token![,]>()?;
            path.into_token_stream()
        } else {
            quote!(::lil::syntax)
        };

        let text: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "`lil_parse!` expects the LIL text as a string literal, e.g. \
                 `lil_parse!(\"entry 0:platform::void; ret;\")`",
            )
        })?;
        if !text.suffix().is_empty() {
            return Err(syn::Error::new(
                text.span(),
                "the LIL text must be a string literal without a suffix",
            ));
        }

        let mut positional = Vec::new();
        let mut named: Vec<NamedArgument> = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let is_named = input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]);
            if is_named {
                let name: Ident = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: Expr = input.parse()?;
                if named.iter().any(|a| a.name == name) {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("duplicate argument named `{name}`"),
                    ));
                }
                named.push(NamedArgument { name, value });
            } else {
                let value: Expr = input.parse()?;
                if let Some(last) = named.last() {
                    let mut error = syn::Error::new_spanned(
                        &value,
                        "positional arguments cannot follow named arguments",
                    );
                    error.combine(syn::Error::new(
                        last.name.span(),
                        "named argument given here",
                    ));
                    return Err(error);
                }
                positional.push(value);
            }
        }
        Ok(MacroInput {
            krate,
            text,
            positional,
            named,
        })
    }
}
