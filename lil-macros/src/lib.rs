//! The `lil_parse!` macro: LIL text checked at compile time, built at run
//! time without parsing.
//!
//! Use it through the facade crate, as `lil::lil_parse!`; the generated code
//! names the AST as `::lil::syntax::…`. The macro parses its string literal
//! with the real `lil-syntax` parser while the crate compiles, so a syntax
//! error is a compile error, and expands to struct literals that build the
//! same [`Stub`](lil_syntax::Stub), spans included. At run time only the
//! `{…}` holes remain: each Rust value is converted and range checked by
//! `lil_syntax::hole`, exactly as the text API checks a `%Ni` directive.
//!
//! A crate that depends on `lil-syntax` but not on the facade names the
//! path itself with a first argument `crate = path,`:
//!
//! ```
//! use lil_macros::lil_parse;
//!
//! let offset = 8;
//! let stub = lil_parse!(crate = lil_syntax, "entry 0:platform:pint:pint; ld r, [i0+{offset}:pint]; ret;")?;
//! assert_eq!(stub, lil_syntax::parse("entry 0:platform:pint:pint; ld r, [i0+8:pint]; ret;")?);
//! # Ok::<(), lil_syntax::SyntaxErrors>(())
//! ```
//!
//! Module map: `input` reads the macro arguments, `record` runs the
//! compile-time parse and records holes, `emit` turns the stub into tokens.
//! Invariant: nothing here panics on user input; every failure becomes a
//! `compile_error!`.

#![warn(missing_docs)]

mod emit;
mod input;
mod record;

use emit::{Emitter, hole_variable, plan_offsets};
use input::MacroInput;
use proc_macro2::{Literal, Span as RustSpan, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use record::{Filler, Recorder};
use syn::LitStr;
use syn::spanned::Spanned;

/// Parse LIL text at compile time; fill its holes with Rust values at run time.
///
/// ```text
/// lil_parse!([crate = path,] "LIL text" [, positional_expr]* [, name = expr]* [,])
/// ```
///
/// The text is a whole stub, starting with its `entry`. Wherever the text API
/// accepts a `%Ni` directive, the macro accepts a hole:
///
/// - `{}` takes the next positional argument, `{N}` positional argument `N`;
/// - `{name}` takes the argument `name = expr`, or else captures the
///   variable `name` from the scope, like `format!`;
/// - holes stand for immediates and operands (`r = {x};`, `call {f};`),
///   address offsets and scales (`[l0+{off}:pint]`, `[l0+l1*{s}:g4]`),
///   counts (`entry {n}:…`, `locals {n};`, `std_places {n};`), `alloc`
///   sizes and variable indices (`o{k}`).
///
/// A value is any primitive integer or a raw pointer (its address); see
/// `lil::syntax::hole::IntoImmediate`. Each argument is evaluated once, in
/// order. `%` directives are not accepted (write a hole instead); an argument
/// no hole uses and a positional hole without an argument are compile errors.
///
/// The expression has type `Result<lil::syntax::Stub, lil::syntax::SyntaxErrors>`.
/// It is an `Err` only when a run-time value does not fit where its hole
/// stands (a variable index above 65535, a negative count, …), with the
/// same `E0105` error the text API gives, located at the hole.
///
/// `crate = path` names the `lil_syntax` crate for code that depends on it
/// without the `lil` facade.
///
/// ```
/// use lil::lil_parse;
///
/// let frontier_offset = 16;
/// let stub = lil_parse!(
///     "entry 0:managed:pint:pint; locals 1; l0 = ts; ld r, [l0+{frontier_offset}:pint]; ret;"
/// )?;
/// assert_eq!(
///     stub,
///     lil::syntax::parse("entry 0:managed:pint:pint; locals 1; l0 = ts; ld r, [l0+16:pint]; ret;")?
/// );
///
/// // Positional and named holes, a variable index, a count.
/// let stub = lil_parse!("entry 0:platform::void; locals {}; o{k} = {v}; ret;", 1, k = 0, v = -5)?;
/// assert_eq!(stub.body.len(), 3);
/// # Ok::<(), lil::syntax::SyntaxErrors>(())
/// ```
#[proc_macro]
pub fn lil_parse(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    match expand(input.into()) {
        Ok(tokens) => tokens,
        Err(error) => {
            // One `compile_error!` per message, the last one as the block's
            // value: an erroneous expression has any type, so that
            // `lil_parse!(…)?` adds no error of its own.
            let errors: Vec<TokenStream> =
                error.into_iter().map(|e| e.to_compile_error()).collect();
            quote!({ #(#errors);* })
        }
    }
    .into()
}

fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: MacroInput = syn::parse2(input)?;
    let text = input.text.value();
    let named: Vec<String> = input.named.iter().map(|a| a.name.to_string()).collect();

    let mut recorder = Recorder::new(&text, input.positional.len(), &named, None);
    let stub = lil_syntax::parse_with_directives(&text, &mut recorder)
        .map_err(|errors| syntax_error(&input.text, &text, &errors))?;
    let holes = recorder.holes;

    let offsets = plan_offsets(&text, input.positional.len(), &named, &stub, &holes)
        .map_err(|message| internal_error(&input.text, &message))?;
    let krate = &input.krate;
    let mut emitter = Emitter::new(krate, &text, &holes, &offsets);
    let stub_tokens = emitter.stub(&stub);
    if !emitter.errors.is_empty() {
        let errors = lil_syntax::SyntaxErrors(std::mem::take(&mut emitter.errors));
        return Err(syntax_error(&input.text, &text, &errors));
    }
    let roles = emitter.finish().map_err(|hole| {
        internal_error(
            &input.text,
            &format!(
                "the hole `{}` at bytes {:?} was not found in the parsed stub",
                hole.text, hole.span
            ),
        )
    })?;

    unused_arguments(&input, &holes)?;

    if holes.is_empty() {
        return Ok(quote! {
            ::core::result::Result::<#krate::Stub, #krate::SyntaxErrors>::Ok(#stub_tokens)
        });
    }

    // Evaluate each argument once, in order, converting it where the user
    // wrote it so that a wrong type is reported at the argument.
    let mut bindings = Vec::new();
    for (i, value) in input.positional.iter().enumerate() {
        let variable = filler_variable(&Filler::Positional(i), &[]);
        bindings.push(bind(krate, &variable, quote!(#value), value.span()));
    }
    for (i, argument) in input.named.iter().enumerate() {
        let variable = filler_variable(&Filler::Named(i), &[]);
        let value = &argument.value;
        bindings.push(bind(krate, &variable, quote!(#value), value.span()));
    }
    let mut captures: Vec<&str> = Vec::new();
    for hole in &holes {
        let Filler::Capture(name) = &hole.filler else {
            continue;
        };
        if captures.contains(&name.as_str()) {
            continue;
        }
        // Resolved where the macro is called, like `format!`'s captures;
        // located at the hole (at the literal on stable compilers).
        let span = RustSpan::call_site().located_at(located(&input.text, &text, hole.span));
        let mut ident = syn::parse_str::<syn::Ident>(name).map_err(|_| {
            syn::Error::new(span, format!("`{name}` cannot be captured as a variable"))
        })?;
        ident.set_span(span);
        captures.push(name);
        let variable = filler_variable(&hole.filler, &captures);
        bindings.push(bind(krate, &variable, quote!(#ident), span));
    }

    // Check each hole's value for the field it fills.
    let holes_variable = syn::Ident::new("__lil_holes", RustSpan::mixed_site());
    let conversions = holes
        .iter()
        .zip(&roles)
        .enumerate()
        .map(|(k, (hole, role))| {
            let source = filler_variable(&hole.filler, &captures);
            let (method, ty) = role.conversion();
            let variable = hole_variable(k);
            let written = Literal::string(&hole.text);
            let start = Literal::u32_unsuffixed(hole.span.start);
            let end = Literal::u32_unsuffixed(hole.span.end);
            quote! {
                let #variable: #ty =
                    #holes_variable.#method(#source, #written, #krate::Span::new(#start, #end));
            }
        });
    Ok(quote! {
        {
            #(#bindings)*
            let mut #holes_variable = #krate::hole::Holes::new();
            #(#conversions)*
            #holes_variable.finish(#stub_tokens)
        }
    })
}

/// The local variable holding an argument's value, converted to `i128`.
/// `captures` lists the captured names in binding order.
fn filler_variable(filler: &Filler, captures: &[&str]) -> syn::Ident {
    let mixed = RustSpan::mixed_site();
    match filler {
        Filler::Positional(i) => format_ident!("__lil_positional_{}", i, span = mixed),
        Filler::Named(i) => format_ident!("__lil_named_{}", i, span = mixed),
        Filler::Capture(name) => {
            let i = captures
                .iter()
                .position(|c| c == name)
                .unwrap_or(usize::MAX);
            format_ident!("__lil_capture_{}", i, span = mixed)
        }
    }
}

/// `let variable: i128 = IntoImmediate::into_immediate(value);`, with the
/// conversion located at `span`.
fn bind(
    krate: &TokenStream,
    variable: &syn::Ident,
    value: TokenStream,
    span: RustSpan,
) -> TokenStream {
    let conversion = quote_spanned!(span=> #krate::hole::IntoImmediate::into_immediate(#value));
    quote!(let #variable: i128 = #conversion;)
}

/// Arguments no hole refers to are errors, as in `format!`.
fn unused_arguments(input: &MacroInput, holes: &[record::Hole]) -> syn::Result<()> {
    let mut error: Option<syn::Error> = None;
    let mut report = |e: syn::Error| match &mut error {
        Some(first) => first.combine(e),
        None => error = Some(e),
    };
    for (i, value) in input.positional.iter().enumerate() {
        if !holes.iter().any(|h| h.filler == Filler::Positional(i)) {
            report(syn::Error::new_spanned(
                value,
                format!("positional argument {i} is not used by any `{{}}` hole"),
            ));
        }
    }
    for (i, argument) in input.named.iter().enumerate() {
        if !holes.iter().any(|h| h.filler == Filler::Named(i)) {
            let name = &argument.name;
            report(syn::Error::new(
                name.span(),
                format!("named argument `{name}` is not used by any `{{{name}}}` hole"),
            ));
        }
    }
    match error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The Rust span of `span` inside the literal when the compiler can give
/// one (nightly), else the whole literal.
fn located(literal: &LitStr, text: &str, span: lil_syntax::Span) -> RustSpan {
    let token = literal.token();
    let source = token.to_string();
    // Only when the literal's source is the text itself between its quotes
    // (no escapes) do offsets into the text map to offsets into the source.
    let prefix = source.find('"').map(|quote| quote + 1);
    match prefix {
        Some(prefix) if source.get(prefix..prefix + text.len()) == Some(text) => token
            .subspan(prefix + span.start as usize..prefix + span.end as usize)
            .unwrap_or_else(|| literal.span()),
        _ => literal.span(),
    }
}

/// A `compile_error!` for syntax errors: the first error's code and message,
/// then every error rendered with carets under the text.
///
/// The first error's rendering starts with the same `error[E…]: message`
/// line as the summary; that line is dropped so the message reads once.
fn syntax_error(literal: &LitStr, text: &str, errors: &lil_syntax::SyntaxErrors) -> syn::Error {
    let Some(first) = errors.first() else {
        return syn::Error::new(literal.span(), "invalid LIL");
    };
    let mut message = format!("invalid LIL [{}]: {}", first.code(), first.kind);
    for (i, diagnostic) in errors.diagnostics().iter().enumerate() {
        let rendered = diagnostic.render("lil_parse!", text);
        let rendered = match rendered.split_once('\n') {
            Some((header, rest)) if i == 0 && header.starts_with("error[") => rest,
            _ => &rendered,
        };
        if i > 0 {
            message.push('\n');
        }
        message.push('\n');
        message.push_str(rendered.trim_end());
    }
    syn::Error::new(located(literal, text, first.span), message)
}

fn internal_error(literal: &LitStr, message: &str) -> syn::Error {
    syn::Error::new(
        literal.span(),
        format!("internal error in `lil_parse!`: {message}; please report this with the LIL text"),
    )
}
