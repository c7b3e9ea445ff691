//! RFC 8941 structured fields (`batch::sfv`: Dictionary, List, Item, inner
//! list), against the `sfv` crate (an independent implementation, in its RFC
//! 8941 mode):
//! - what this parser accepts, `sfv` accepts, and both serialize it to the same
//!   canonical text; that text parses again to itself (a fixed point);
//! - what `sfv` accepts and this parser refuses is only what it documents as
//!   stricter (non-canonical base64 in byte sequences) or beyond its limits;
//! - the walk over a parsed value (members, items, parameters) sees everything
//!   the parse accepted, under the default limits and under wider ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::batch::sfv::{self, Dictionary, Item, Limits, List, Member};

const WIDE: Limits = Limits {
    max_len: 64 * 1024,
    max_members: 1024,
    max_inner_items: 1024,
    max_params: 256,
};

fn ser(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("serialization is ASCII")
}

/// The `sfv` crate's parse, per field type.
trait FieldTypeProxy {
    /// Its canonical serialization, if it parses.
    fn parse_and_serialize(s: &str) -> Option<String>;
    /// Members (or 1 for an item), inner-list items and parameters at most.
    fn counts(s: &str) -> Option<(usize, usize, usize)>;
}

fn theirs<T: FieldTypeProxy>(s: &str) -> Option<String> {
    T::parse_and_serialize(s)
}

mod sfv_ref {
    use ::sfv as r;
    use ::sfv::FieldType as _;

    fn parser(s: &str) -> r::Parser<'_> {
        r::Parser::new(s).with_version(r::Version::Rfc8941)
    }

    fn entry_counts(e: &r::ListEntry) -> (usize, usize) {
        match e {
            r::ListEntry::Item(i) => (0, i.params.len()),
            r::ListEntry::InnerList(l) => (
                l.items.len(),
                l.items
                    .iter()
                    .map(|i| i.params.len())
                    .max()
                    .unwrap_or(0)
                    .max(l.params.len()),
            ),
        }
    }

    pub struct Dict;
    pub struct List;
    pub struct Item;

    impl super::FieldTypeProxy for Dict {
        fn parse_and_serialize(s: &str) -> Option<String> {
            let d: r::Dictionary = parser(s).parse().ok()?;
            Some(d.serialize().unwrap_or_default())
        }
        fn counts(s: &str) -> Option<(usize, usize, usize)> {
            let d: r::Dictionary = parser(s).parse().ok()?;
            let (mut items, mut params) = (0, 0);
            for e in d.values() {
                let (i, p) = entry_counts(e);
                items = items.max(i);
                params = params.max(p);
            }
            Some((d.len(), items, params))
        }
    }
    impl super::FieldTypeProxy for List {
        fn parse_and_serialize(s: &str) -> Option<String> {
            let l: r::List = parser(s).parse().ok()?;
            Some(l.serialize().unwrap_or_default())
        }
        fn counts(s: &str) -> Option<(usize, usize, usize)> {
            let l: r::List = parser(s).parse().ok()?;
            let (mut items, mut params) = (0, 0);
            for e in &l {
                let (i, p) = entry_counts(e);
                items = items.max(i);
                params = params.max(p);
            }
            Some((l.len(), items, params))
        }
    }
    impl super::FieldTypeProxy for Item {
        fn parse_and_serialize(s: &str) -> Option<String> {
            let i: r::Item = parser(s).parse().ok()?;
            Some(i.serialize())
        }
        fn counts(s: &str) -> Option<(usize, usize, usize)> {
            let i: r::Item = parser(s).parse().ok()?;
            Some((1, 0, i.params.len()))
        }
    }
}

/// What our parser may refuse though `sfv` accepts it.
fn may_refuse(s: &str, limits: &Limits) -> bool {
    // Byte sequences: canonical base64 only (documented as stricter).
    if s.contains(':') {
        return true;
    }
    if s.len() > limits.max_len {
        return true;
    }
    // sfv merges duplicate keys and parameters, which count against our limits:
    // bound the counts from above by the separators in the text.
    let count = |c: char| s.chars().filter(|&x| x == c).count();
    count(',') + 1 > limits.max_members
        || count(';') > limits.max_params
        || count(' ') + 1 > limits.max_inner_items
}

fn check_member(m: &Member<'_>) {
    match m {
        Member::Item(i) => {
            let _ = i.params.len();
        }
        Member::InnerList(l) => {
            let mut n = 0;
            for it in l.iter() {
                n += 1;
                let _ = it.params.len();
            }
            assert_eq!(n, l.len());
            assert_eq!(l.is_empty(), n == 0);
        }
    }
}

fn check_dictionary(s: &str, limits: &Limits) {
    let ours = Dictionary::parse(s, limits);
    let theirs = theirs::<sfv_ref::Dict>(s);
    match ours {
        Ok(d) => {
            let text = ser(|o| d.serialize(o).unwrap());
            let t =
                theirs.unwrap_or_else(|| panic!("Dictionary {s:?} accepted here, refused by sfv"));
            assert_eq!(text, t, "Dictionary serializations differ for {s:?}");
            let again = Dictionary::parse(&text, limits).expect("own serialization parses");
            assert_eq!(
                ser(|o| again.serialize(o).unwrap()),
                text,
                "not a fixed point"
            );
            // The walk sees every member the parse counted, sfv merges duplicates.
            let n = d.iter().inspect(|(_, m)| check_member(m)).count();
            assert_eq!(n, d.len());
            let distinct = sfv_ref::Dict::counts(s).unwrap().0;
            assert_eq!(d.has_duplicate_keys(), n != distinct, "duplicates of {s:?}");
            for (k, _) in d.iter() {
                assert!(d.get(k).is_some());
            }
        }
        Err(e) => {
            assert!(e.offset <= s.len());
            if theirs.is_some() {
                assert!(
                    may_refuse(s, limits),
                    "Dictionary {s:?} refused ({e}), sfv accepts"
                );
            }
        }
    }
}

fn check_list(s: &str, limits: &Limits) {
    let ours = List::parse(s, limits);
    let theirs = theirs::<sfv_ref::List>(s);
    match ours {
        Ok(l) => {
            let text = ser(|o| l.serialize(o).unwrap());
            let t = theirs.unwrap_or_else(|| panic!("List {s:?} accepted here, refused by sfv"));
            assert_eq!(text, t, "List serializations differ for {s:?}");
            let again = List::parse(&text, limits).expect("own serialization parses");
            assert_eq!(
                ser(|o| again.serialize(o).unwrap()),
                text,
                "not a fixed point"
            );
            let n = l.iter().inspect(check_member).count();
            assert_eq!(n, l.len());
            assert_eq!(n, sfv_ref::List::counts(s).unwrap().0);
        }
        Err(e) => {
            assert!(e.offset <= s.len());
            if theirs.is_some() {
                assert!(
                    may_refuse(s, limits),
                    "List {s:?} refused ({e}), sfv accepts"
                );
            }
        }
    }
}

fn check_item(s: &str, limits: &Limits) {
    let ours = Item::parse(s, limits);
    let theirs = theirs::<sfv_ref::Item>(s);
    match ours {
        Ok(i) => {
            let text = ser(|o| i.serialize(o).unwrap());
            let t = theirs.unwrap_or_else(|| panic!("Item {s:?} accepted here, refused by sfv"));
            assert_eq!(text, t, "Item serializations differ for {s:?}");
            let again = Item::parse(&text, limits).expect("own serialization parses");
            assert_eq!(again.bare, i.bare, "the value changed");
            if let Some(b) = i.bare.as_byte_seq() {
                let mut out = vec![0u8; b.decoded_len()];
                assert_eq!(b.decode_into(&mut out), Ok(out.len()));
            }
        }
        Err(e) => {
            assert!(e.offset <= s.len());
            if theirs.is_some() {
                assert!(
                    may_refuse(s, limits),
                    "Item {s:?} refused ({e}), sfv accepts"
                );
            }
        }
    }
    // An inner list on its own (a Signature-Input member's value).
    if let Ok(l) = sfv::parse_inner_list(s, limits) {
        let text = ser(|o| l.serialize(o).unwrap());
        let again = sfv::parse_inner_list(&text, limits).expect("own serialization parses");
        assert_eq!(ser(|o| again.serialize(o).unwrap()), text);
        assert_eq!(again.len(), l.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for limits in [Limits::DEFAULT, WIDE] {
        check_dictionary(s, &limits);
        check_list(s, &limits);
        check_item(s, &limits);
    }
});
