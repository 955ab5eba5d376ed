//! The import-table editing of the minject library on PE32+ images built in memory.

mod common;

use common::*;
use minject::{dll_name_for, inject, pe_checksum, Change, Error, Image, Symbol};

const DLL: &str = "mimalloc-override.dll";

fn original_syms(b: &Builder) -> Vec<(String, Vec<Sym>)> {
    b.imports
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect()
}

/// What an injected image imports: the DLL with `mi_version`, then the builder's modules.
fn ours_then(b: &Builder) -> Vec<(String, Vec<Sym>)> {
    let mut expected = vec![(DLL.to_string(), vec![Sym::Name(0, "mi_version")])];
    expected.extend(original_syms(b));
    expected
}

/// Each import's module name and the symbols of its lookup table (or its IAT).
fn imported(data: &[u8]) -> Vec<(String, Vec<Sym>)> {
    raw_imports(data)
        .into_iter()
        .map(|i| {
            let table = if i.oft != 0 { i.oft } else { i.first_thunk };
            (i.name, table_syms(data, table))
        })
        .collect()
}

fn checksum_is_valid(data: &[u8]) {
    assert_eq!(
        checksum_field(data),
        reference_checksum(data, OPT_OFFSET + 64),
        "the CheckSum field does not match the reference computation"
    );
}

#[test]
fn lists_the_imports_in_order_with_their_symbols() {
    let b = Builder::default();
    let data = b.build();
    let image = Image::parse(&data).unwrap();
    let names: Vec<&str> = image.imports.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["KERNEL32.dll", "msvcrt.dll", "USER32.dll"]);
    let syms = image.symbols(&data, &image.imports[1]).unwrap();
    assert_eq!(
        syms,
        [
            Symbol::Name {
                hint: 7,
                name: "malloc".into()
            },
            Symbol::Name {
                hint: 8,
                name: "free".into()
            },
            Symbol::Ordinal(42),
        ]
    );
    // The image is what the builder meant to write.
    assert_eq!(imported(&data), original_syms(&b));
    checksum_is_valid(&data);
}

#[test]
fn adding_puts_the_dll_first_and_keeps_every_other_import() {
    let b = Builder::default();
    let input = b.build();
    let before = raw_imports(&input);
    let out = inject(&input, DLL).unwrap();
    assert_eq!(out.change, Change::Added);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let data = out.data;

    let after = raw_imports(&data);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[0].name, DLL);
    assert_eq!(
        table_syms(&data, after[0].oft),
        [Sym::Name(0, "mi_version")]
    );
    assert_eq!(
        table_syms(&data, after[0].first_thunk),
        [Sym::Name(0, "mi_version")]
    );
    for (old, new) in before.iter().zip(&after[1..]) {
        assert_eq!(new.name, old.name);
        // The program's code reads its imports from the old address tables.
        assert_eq!(new.first_thunk, old.first_thunk, "{}", old.name);
        assert_eq!(new.stamp, 0);
        // The lookup table is a copy with the same symbols.
        assert_eq!(table_syms(&data, new.oft), table_syms(&input, old.oft));
    }
    assert_eq!(imported(&data), ours_then(&b));

    // One more section, readable and writable initialized data, after the others.
    let n = nsections(&input);
    assert_eq!(nsections(&data), n + 1);
    let (name, vsize, va, raw, ptr, chars) = section(&data, n);
    assert_eq!(name, ".minject");
    assert_eq!(chars, 0xc000_0040);
    let (_, last_vsize, last_va, _, last_ptr, _) = section(&input, n - 1);
    assert_eq!(
        va as usize,
        (last_va + last_vsize).next_multiple_of(SECT_ALIGN) as usize
    );
    assert!(ptr as usize >= last_ptr as usize && ptr % FILE_ALIGN == 0 && raw % FILE_ALIGN == 0);
    assert_eq!(data.len(), (ptr + raw) as usize);
    assert_eq!(dir(&data, 1), (va, 20 * (before.len() as u32 + 2)));
    assert!(vsize <= raw);
    // SizeOfImage and SizeOfInitializedData grew by the section.
    assert_eq!(
        get32(&data, OPT_OFFSET + 56),
        (va + vsize).next_multiple_of(SECT_ALIGN)
    );
    assert_eq!(
        get32(&data, OPT_OFFSET + 8),
        get32(&input, OPT_OFFSET + 8) + raw
    );
    // The IAT directory and SizeOfHeaders are as they were.
    assert_eq!(dir(&data, 12), dir(&input, 12));
    assert_eq!(
        get32(&data, OPT_OFFSET + 60),
        get32(&input, OPT_OFFSET + 60)
    );

    // Nothing in the sections' data moved or changed.
    let headers_end = get32(&input, OPT_OFFSET + 60) as usize;
    assert_eq!(data[headers_end..input.len()], input[headers_end..]);
    checksum_is_valid(&data);
}

#[test]
fn the_result_parses_and_injecting_again_changes_nothing() {
    let input = Builder::default().build();
    let once = inject(&input, DLL).unwrap().data;
    let image = Image::parse(&once).unwrap();
    assert_eq!(image.imports[0].name, DLL);
    let twice = inject(&once, DLL).unwrap();
    assert_eq!(twice.change, Change::AlreadyFirst);
    assert_eq!(twice.data, once);
}

#[test]
fn an_imported_dll_in_a_later_place_moves_first() {
    let mut b = Builder::default();
    b.imports.insert(2, (DLL, vec![Sym::Name(3, "mi_version")]));
    let input = b.build();
    let before = raw_imports(&input);
    let out = inject(&input, DLL).unwrap();
    assert_eq!(out.change, Change::Moved { from: 2 });
    let after = raw_imports(&out.data);
    let expected = [&before[2], &before[0], &before[1], &before[3]];
    assert_eq!(after.iter().collect::<Vec<_>>(), expected);
    // Same size, same sections; only the import directory and the checksum changed.
    assert_eq!(out.data.len(), input.len());
    assert_eq!(nsections(&out.data), nsections(&input));
    let dir_off = rva_to_off(&input, dir(&input, 1).0);
    let changed: Vec<usize> = (0..input.len())
        .filter(|&i| input[i] != out.data[i])
        .collect();
    assert!(changed.iter().all(|&i| (dir_off..dir_off + 60).contains(&i)
        || (OPT_OFFSET + 64..OPT_OFFSET + 68).contains(&i)));
    checksum_is_valid(&out.data);
    // And now it is first.
    let again = inject(&out.data, DLL).unwrap();
    assert_eq!(again.change, Change::AlreadyFirst);
}

#[test]
fn dll_names_match_without_regard_to_case() {
    let mut b = Builder::default();
    b.imports
        .push(("MIMALLOC-OVERRIDE.DLL", vec![Sym::Ordinal(1)]));
    let out = inject(&b.build(), DLL).unwrap();
    assert_eq!(out.change, Change::Moved { from: 3 });
    assert_eq!(raw_imports(&out.data)[0].name, "MIMALLOC-OVERRIDE.DLL");
}

#[test]
fn an_already_first_dll_leaves_the_file_unchanged() {
    let mut b = Builder::default();
    b.imports.insert(0, (DLL, vec![Sym::Name(0, "mi_version")]));
    let input = b.build();
    let out = inject(&input, DLL).unwrap();
    assert_eq!(out.change, Change::AlreadyFirst);
    assert_eq!(out.data, input);
}

#[test]
fn the_postfix_names_the_dll() {
    assert_eq!(dll_name_for("override"), DLL);
    let name = dll_name_for("override-debug");
    assert_eq!(name, "mimalloc-override-debug.dll");
    let out = inject(&Builder::default().build(), &name).unwrap();
    assert_eq!(
        raw_imports(&out.data)[0].name,
        "mimalloc-override-debug.dll"
    );
    // The default DLL is a different module: it is added in front of the other one.
    let both = inject(&out.data, DLL).unwrap();
    assert_eq!(both.change, Change::Added);
    let names: Vec<String> = raw_imports(&both.data)
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(&names[..2], [DLL, "mimalloc-override-debug.dll"]);
    assert_eq!(nsections(&both.data), nsections(&out.data) + 1);
    checksum_is_valid(&both.data);
}

#[test]
fn a_32_bit_image_is_refused() {
    let b = Builder {
        magic: 0x10b,
        machine: 0x14c,
        ..Builder::default()
    };
    let data = b.build();
    let err = inject(&data, DLL).unwrap_err();
    assert_eq!(err, Error::Pe32);
    assert!(err.to_string().contains("32-bit (PE32)"), "{err}");
    assert_eq!(Image::parse(&data).unwrap_err(), Error::Pe32);
}

#[test]
fn other_machines_are_refused_and_arm64_is_accepted() {
    let ia64 = Builder {
        machine: 0x200,
        ..Builder::default()
    };
    let err = inject(&ia64.build(), DLL).unwrap_err();
    assert_eq!(err, Error::Machine(0x200));
    assert!(err.to_string().contains("0x0200"), "{err}");
    let arm64 = Builder {
        machine: 0xaa64,
        ..Builder::default()
    };
    assert_eq!(inject(&arm64.build(), DLL).unwrap().change, Change::Added);
}

#[test]
fn files_that_are_not_pe_are_refused() {
    let err = inject(b"#!/bin/sh\necho not an exe\n".repeat(10).as_slice(), DLL).unwrap_err();
    assert_eq!(err, Error::NotPe("no MZ header".into()));
    assert_eq!(err.to_string(), "not a PE executable (no MZ header)");
    assert!(matches!(inject(b"MZ", DLL), Err(Error::NotPe(_))));
    // An MS-DOS program: MZ, but no PE signature where e_lfanew points.
    let mut dos = vec![0u8; 0x200];
    dos[..2].copy_from_slice(b"MZ");
    put32(&mut dos, 0x3c, 0x80);
    assert_eq!(
        inject(&dos, DLL).unwrap_err(),
        Error::NotPe("no PE signature".into())
    );
    put32(&mut dos, 0x3c, 0xffff_fff0);
    assert_eq!(
        inject(&dos, DLL).unwrap_err(),
        Error::NotPe("no PE signature".into())
    );
}

#[test]
fn truncated_images_are_reported_not_panicked_on() {
    let data = Builder::default().build();
    for len in [0x100, OPT_OFFSET + 100, SECTION_TABLE + 50, 0x500, 0x7ff] {
        let r = inject(&data[..len], DLL);
        assert!(r.is_err(), "a file cut at 0x{len:x} was accepted");
    }
}

#[test]
fn no_room_for_a_section_header_is_refused() {
    // Three section headers fill 0x200 bytes of headers exactly.
    let full = Builder {
        size_of_headers: 0x200,
        ..Builder::default()
    };
    let data = full.build();
    let err = inject(&data, DLL).unwrap_err();
    assert!(matches!(err, Error::NoRoom(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("no room for another section header"),
        "{err}"
    );
    // Moving needs no room.
    let mut moving = full.clone();
    moving.imports.push((DLL, vec![Sym::Ordinal(1)]));
    assert!(matches!(
        inject(&moving.build(), DLL).unwrap().change,
        Change::Moved { from: 3 }
    ));
    // Room that holds something is no room either.
    let used = Builder {
        header_garbage: true,
        ..Builder::default()
    };
    let err = inject(&used.build(), DLL).unwrap_err();
    assert!(err.to_string().contains("are in use"), "{err}");
}

#[test]
fn bound_imports_are_cleared() {
    let b = Builder {
        bound: true,
        ..Builder::default()
    };
    let input = b.build();
    assert_ne!(dir(&input, 11), (0, 0));
    let data = inject(&input, DLL).unwrap().data;
    assert_eq!(dir(&data, 11), (0, 0));
    assert!(raw_imports(&data).iter().all(|i| i.stamp == 0));
    // The bound import table's bytes beyond the new section header are zero too.
    let n = nsections(&data);
    assert!(data[SECTION_TABLE + 40 * n..0x400].iter().all(|&b| b == 0));
    assert_eq!(imported(&data), ours_then(&b));
    checksum_is_valid(&data);
}

#[test]
fn bound_imports_without_lookup_tables_are_refused() {
    let b = Builder {
        bound: true,
        no_lookup_tables: true,
        ..Builder::default()
    };
    let err = inject(&b.build(), DLL).unwrap_err();
    assert!(err.to_string().contains("cannot be unbound"), "{err}");
}

#[test]
fn imports_without_lookup_tables_get_one() {
    let b = Builder {
        no_lookup_tables: true,
        ..Builder::default()
    };
    let input = b.build();
    let data = inject(&input, DLL).unwrap().data;
    let after = raw_imports(&data);
    for (old, new) in raw_imports(&input).iter().zip(&after[1..]) {
        assert_eq!(new.first_thunk, old.first_thunk);
        assert_ne!(new.oft, 0);
        assert_eq!(
            table_syms(&data, new.oft),
            table_syms(&input, old.first_thunk)
        );
    }
}

#[test]
fn an_image_without_imports_gets_ours_alone() {
    let b = Builder {
        imports: Vec::new(),
        ..Builder::default()
    };
    let input = b.build();
    assert!(Image::parse(&input).unwrap().imports.is_empty());
    let data = inject(&input, DLL).unwrap().data;
    assert_eq!(imported(&data), ours_then(&b));
}

#[test]
fn overlay_data_stays_where_it_was() {
    let overlay: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 1) as u8).collect();
    let b = Builder {
        overlay: overlay.clone(),
        ..Builder::default()
    };
    let input = b.build();
    let data = inject(&input, DLL).unwrap().data;
    // Every byte after the headers, overlay included, is at its old offset.
    assert_eq!(data[0x400..input.len()], input[0x400..]);
    let (_, _, _, _, ptr, _) = section(&data, nsections(&data) - 1);
    assert!(ptr as usize >= input.len());
    checksum_is_valid(&data);
}

#[test]
fn a_signature_is_removed_with_a_warning() {
    let b = Builder {
        overlay: vec![0xee; 10],
        certificate: Some(vec![0x30; 64]),
        ..Builder::default()
    };
    let input = b.build();
    let (cert_off, cert_len) = dir(&input, 4);
    assert_eq!(cert_off as usize + cert_len as usize, input.len());
    let out = inject(&input, DLL).unwrap();
    assert_eq!(dir(&out.data, 4), (0, 0));
    assert!(
        out.warnings.iter().any(|w| w.contains("signature")),
        "{:?}",
        out.warnings
    );
    // The certificates are gone, the overlay before them is kept.
    let (_, _, _, _, ptr, _) = section(&out.data, nsections(&out.data) - 1);
    assert_eq!(
        ptr as usize,
        (cert_off as usize).next_multiple_of(FILE_ALIGN as usize)
    );
    assert_eq!(
        out.data[0x400..cert_off as usize],
        input[0x400..cert_off as usize]
    );
    checksum_is_valid(&out.data);

    // Moving a DLL invalidates a signature as well.
    let mut m = b.clone();
    m.imports.push((DLL, vec![Sym::Ordinal(1)]));
    let input = m.build();
    let out = inject(&input, DLL).unwrap();
    assert_eq!(dir(&out.data, 4), (0, 0));
    assert_eq!(out.data.len(), dir(&input, 4).0 as usize);
    // An image that insists on a valid signature gets a second warning.
    let strict = Builder {
        dll_characteristics: 0x8160 | 0x80,
        ..b
    };
    let out = inject(&strict.build(), DLL).unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("FORCE_INTEGRITY")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn the_checksum_is_the_reference_checksum() {
    // By hand: 0xffff + 0xffff = 0x1fffe -> 0xffff; + 0x0001 = 0x10000 -> 0x0001;
    // plus the length 5.
    assert_eq!(pe_checksum(&[0xff, 0xff, 0xff, 0xff, 0x01], 100), 6);
    // The checksum field itself counts as zero.
    assert_eq!(pe_checksum(&[1, 0, 0xaa, 0xbb, 0xcc, 0xdd, 2, 0], 2), 3 + 8);
    // Pseudo-random files of many lengths, checksum field in various places.
    let mut x: u32 = 0x1234_5678;
    for len in (64..3000).step_by(37) {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        let at = (x as usize % (len - 4)) & !3;
        assert_eq!(
            pe_checksum(&data, at),
            reference_checksum(&data, at),
            "len {len}"
        );
    }
    // All ones: the one's complement sum of 0xffff words stays 0xffff.
    let ones = vec![0xffu8; 4096];
    assert_eq!(pe_checksum(&ones, 64), reference_checksum(&ones, 64));
}

#[test]
fn a_bound_import_table_over_the_section_table_is_refused() {
    let b = Builder {
        bound: true,
        ..Builder::default()
    };
    let mut input = b.build();
    // Point the bound import directory at the section headers: clearing it would
    // erase them.
    put32(&mut input, OPT_OFFSET + 112 + 8 * 11, SECTION_TABLE as u32);
    put32(&mut input, OPT_OFFSET + 112 + 8 * 11 + 4, 16);
    let err = inject(&input, DLL).unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err}");
    assert!(
        err.to_string().contains("overlaps the section table"),
        "{err}"
    );
}

#[test]
fn descriptors_sharing_a_huge_thunk_table_are_refused() {
    // Five modules whose lookup tables all are the first one's 3000 entries: more thunks
    // in all than the file has room for, the shape of a file made to make the tool read
    // (and copy) one table over and over.
    let mut b = Builder {
        imports: vec![("A.dll", (1..=3000).map(Sym::Ordinal).collect())],
        ..Builder::default()
    };
    for name in ["B.dll", "C.dll", "D.dll", "E.dll"] {
        b.imports.push((name, vec![Sym::Ordinal(1)]));
    }
    let mut input = b.build();
    let imports = raw_imports(&input);
    let desc = rva_to_off(&input, dir(&input, 1).0);
    for i in 1..imports.len() {
        put32(&mut input, desc + 20 * i, imports[0].oft);
    }
    assert!(
        5 * 3000 > input.len() / 8,
        "the test image is too large to show the limit"
    );
    let err = inject(&input, DLL).unwrap_err();
    assert!(
        err.to_string()
            .contains("more entries than the file has room for"),
        "{err}"
    );
}
