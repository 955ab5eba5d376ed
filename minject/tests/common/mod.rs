//! A builder of small, valid PE32+ images for the tests, and a reader of their import
//! tables written independently of the crate's own parser (plain offset arithmetic),
//! plus a reference checksum computed the other way round (32-bit sums, as pefile
//! does), so that the tests do not check the crate against itself.
#![allow(dead_code)]

pub const FILE_ALIGN: u32 = 0x200;
pub const SECT_ALIGN: u32 = 0x1000;
pub const PE_OFFSET: usize = 0x80;
pub const OPT_OFFSET: usize = PE_OFFSET + 24;
pub const SECTION_TABLE: usize = OPT_OFFSET + 240;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sym {
    Name(u16, &'static str),
    Ordinal(u16),
}

#[derive(Clone)]
pub struct Builder {
    pub magic: u16,
    pub machine: u16,
    pub imports: Vec<(&'static str, Vec<Sym>)>,
    /// Sections besides .text and .idata.
    pub extra_sections: usize,
    pub size_of_headers: u32,
    /// Bytes after the last section (not a certificate).
    pub overlay: Vec<u8>,
    /// A certificate table appended after the overlay (data directory 4).
    pub certificate: Option<Vec<u8>>,
    /// Mark every descriptor bound (TimeDateStamp -1) and put a bound import
    /// directory just after the section table.
    pub bound: bool,
    /// Leave the lookup tables out (OriginalFirstThunk 0): the IAT is the only table.
    pub no_lookup_tables: bool,
    /// A non-zero byte just after the section table.
    pub header_garbage: bool,
    pub dll_characteristics: u16,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            magic: 0x20b,
            machine: 0x8664,
            imports: vec![
                (
                    "KERNEL32.dll",
                    vec![
                        Sym::Name(0x11b, "ExitProcess"),
                        Sym::Name(0x2a0, "GetLastError"),
                    ],
                ),
                (
                    "msvcrt.dll",
                    vec![
                        Sym::Name(7, "malloc"),
                        Sym::Name(8, "free"),
                        Sym::Ordinal(42),
                    ],
                ),
                ("USER32.dll", vec![Sym::Name(1, "MessageBoxA")]),
            ],
            extra_sections: 1,
            size_of_headers: 0x400,
            overlay: Vec::new(),
            certificate: None,
            bound: false,
            no_lookup_tables: false,
            header_garbage: false,
            dll_characteristics: 0x8160,
        }
    }
}

pub fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
pub fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
pub fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
pub fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
pub fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

fn align(v: usize, a: u32) -> usize {
    v.div_ceil(a as usize) * a as usize
}

/// Where the builder puts the import data, for checks against the original layout.
pub const IDATA_RVA: u32 = 0x2000;

impl Builder {
    pub fn build(&self) -> Vec<u8> {
        // .idata contents: descriptors, then per import: ILT, IAT, then hint/names, names.
        let n = self.imports.len();
        let mut idata = vec![0u8; (n + 1) * 20];
        let mut tables = Vec::new(); // (ilt_off, iat_off) per import
        for (_, syms) in &self.imports {
            let ilt = idata.len();
            idata.resize(ilt + 8 * (syms.len() + 1), 0);
            let iat = idata.len();
            idata.resize(iat + 8 * (syms.len() + 1), 0);
            tables.push((ilt, iat));
        }
        for (i, (dll, syms)) in self.imports.iter().enumerate() {
            let (ilt, iat) = tables[i];
            for (j, s) in syms.iter().enumerate() {
                let thunk = match s {
                    Sym::Ordinal(o) => (1u64 << 63) | *o as u64,
                    Sym::Name(hint, name) => {
                        if idata.len() % 2 != 0 {
                            idata.push(0);
                        }
                        let at = idata.len();
                        idata.extend_from_slice(&hint.to_le_bytes());
                        idata.extend_from_slice(name.as_bytes());
                        idata.push(0);
                        (IDATA_RVA as usize + at) as u64
                    }
                };
                if !self.no_lookup_tables {
                    put64(&mut idata, ilt + 8 * j, thunk);
                }
                put64(&mut idata, iat + 8 * j, thunk);
            }
            let name_at = idata.len();
            idata.extend_from_slice(dll.as_bytes());
            idata.push(0);
            let d = i * 20;
            let rva = |o: usize| IDATA_RVA + o as u32;
            put32(
                &mut idata,
                d,
                if self.no_lookup_tables { 0 } else { rva(ilt) },
            );
            put32(&mut idata, d + 4, if self.bound { u32::MAX } else { 0 });
            put32(&mut idata, d + 8, 0);
            put32(&mut idata, d + 12, rva(name_at));
            put32(&mut idata, d + 16, rva(iat));
        }

        // Sections: .text, .idata, fillers.
        let mut sections: Vec<(&str, Vec<u8>, u32)> = vec![
            (".text", vec![0xc3; 0x30], 0x6000_0020),
            (".idata", idata, 0xc000_0040),
        ];
        for i in 0..self.extra_sections {
            sections.push((".data", vec![i as u8 + 1; 0x40], 0xc000_0040));
        }
        let nsec = sections.len();
        assert!(
            SECTION_TABLE + 40 * nsec <= self.size_of_headers as usize,
            "builder: headers too small"
        );
        let mut out = vec![0u8; self.size_of_headers as usize];
        out[0..2].copy_from_slice(b"MZ");
        put32(&mut out, 0x3c, PE_OFFSET as u32);
        out[PE_OFFSET..PE_OFFSET + 4].copy_from_slice(b"PE\0\0");
        let coff = PE_OFFSET + 4;
        put16(&mut out, coff, self.machine);
        put16(&mut out, coff + 2, nsec as u16);
        put16(&mut out, coff + 16, 240);
        put16(&mut out, coff + 18, 0x22);
        let o = OPT_OFFSET;
        put16(&mut out, o, self.magic);
        put32(&mut out, o + 16, 0x1000); // entry point
        put64(&mut out, o + 24, 0x1_4000_0000);
        put32(&mut out, o + 32, SECT_ALIGN);
        put32(&mut out, o + 36, FILE_ALIGN);
        put16(&mut out, o + 40, 6);
        put16(&mut out, o + 48, 6);
        put32(&mut out, o + 60, self.size_of_headers);
        put16(&mut out, o + 68, 3);
        put16(&mut out, o + 70, self.dll_characteristics);
        put32(&mut out, o + 108, 16);
        let mut va = SECT_ALIGN;
        let mut initialized = 0u32;
        for (i, (name, data, chars)) in sections.iter().enumerate() {
            let h = SECTION_TABLE + 40 * i;
            out[h..h + name.len()].copy_from_slice(name.as_bytes());
            put32(&mut out, h + 8, data.len() as u32);
            put32(&mut out, h + 12, va);
            let raw = align(data.len(), FILE_ALIGN);
            put32(&mut out, h + 16, raw as u32);
            let ptr = out.len() as u32;
            put32(&mut out, h + 20, ptr);
            put32(&mut out, h + 36, *chars);
            if *name == ".idata" {
                assert_eq!(va, IDATA_RVA);
                put32(&mut out, o + 112 + 8, va);
                put32(&mut out, o + 112 + 12, (self.imports.len() as u32 + 1) * 20);
            }
            if chars & 0x40 != 0 {
                initialized += raw as u32;
            }
            out.extend_from_slice(data);
            out.resize(align(out.len(), FILE_ALIGN), 0);
            va += align(data.len(), SECT_ALIGN) as u32;
        }
        put32(&mut out, o + 4, 0x200);
        put32(&mut out, o + 8, initialized);
        put32(&mut out, o + 56, va);
        if self.bound {
            // Two IMAGE_BOUND_IMPORT_DESCRIPTORs and a terminator, then the names.
            let at = SECTION_TABLE + 40 * nsec;
            put32(&mut out, at, 0x1234_5678);
            put16(&mut out, at + 4, 24);
            put32(&mut out, at + 8, 0x2345_6789);
            put16(&mut out, at + 12, 24 + 13);
            out[at + 24..at + 24 + 12].copy_from_slice(b"KERNEL32.dll");
            out[at + 37..at + 37 + 10].copy_from_slice(b"msvcrt.dll");
            put32(&mut out, o + 112 + 8 * 11, at as u32);
            put32(&mut out, o + 112 + 8 * 11 + 4, 48);
        }
        if self.header_garbage {
            out[SECTION_TABLE + 40 * nsec + 17] = 0x5a;
        }
        out.extend_from_slice(&self.overlay);
        if let Some(cert) = &self.certificate {
            out.resize(align(out.len(), 8), 0);
            let at = out.len() as u32;
            put32(&mut out, o + 112 + 8 * 4, at);
            put32(&mut out, o + 112 + 8 * 4 + 4, cert.len() as u32);
            out.extend_from_slice(cert);
        }
        let sum = reference_checksum(&out, o + 64);
        put32(&mut out, o + 64, sum);
        out
    }
}

/// The PE checksum computed with 32-bit sums and a final fold (pefile's way), a
/// different route to the same number as the crate's 16-bit loop.
pub fn reference_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let mut padded = data.to_vec();
    while padded.len() % 4 != 0 {
        padded.push(0);
    }
    padded[checksum_offset..checksum_offset + 4].fill(0);
    let mut sum: u64 = 0;
    for chunk in padded.chunks_exact(4) {
        sum += u32::from_le_bytes(chunk.try_into().unwrap()) as u64;
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    let mut s = (sum & 0xffff) + (sum >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    (s as u32).wrapping_add(data.len() as u32)
}

/// One import descriptor as stored, with the module name read through the sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawImport {
    pub name: String,
    pub oft: u32,
    pub stamp: u32,
    pub chain: u32,
    pub name_rva: u32,
    pub first_thunk: u32,
}

pub fn nsections(data: &[u8]) -> usize {
    get16(data, PE_OFFSET + 6) as usize
}

/// (name, vsize, va, raw size, raw pointer, characteristics) of section `i`.
pub fn section(data: &[u8], i: usize) -> (String, u32, u32, u32, u32, u32) {
    let h = SECTION_TABLE + 40 * i;
    let name = String::from_utf8_lossy(&data[h..h + 8])
        .trim_end_matches('\0')
        .to_string();
    (
        name,
        get32(data, h + 8),
        get32(data, h + 12),
        get32(data, h + 16),
        get32(data, h + 20),
        get32(data, h + 36),
    )
}

pub fn rva_to_off(data: &[u8], rva: u32) -> usize {
    for i in 0..nsections(data) {
        let (_, vsize, va, raw, ptr, _) = section(data, i);
        if rva >= va && rva < va + vsize.max(raw) {
            return (ptr + rva - va) as usize;
        }
    }
    panic!("rva 0x{rva:x} in no section");
}

pub fn cstr(data: &[u8], rva: u32) -> String {
    let off = rva_to_off(data, rva);
    let end = data[off..].iter().position(|&b| b == 0).unwrap();
    String::from_utf8(data[off..off + end].to_vec()).unwrap()
}

pub fn dir(data: &[u8], index: usize) -> (u32, u32) {
    let at = OPT_OFFSET + 112 + 8 * index;
    (get32(data, at), get32(data, at + 4))
}

pub fn raw_imports(data: &[u8]) -> Vec<RawImport> {
    let (rva, _) = dir(data, 1);
    let mut out = Vec::new();
    if rva == 0 {
        return out;
    }
    let mut off = rva_to_off(data, rva);
    loop {
        let f = |k: usize| get32(data, off + 4 * k);
        if f(3) == 0 {
            return out;
        }
        out.push(RawImport {
            name: cstr(data, f(3)),
            oft: f(0),
            stamp: f(1),
            chain: f(2),
            name_rva: f(3),
            first_thunk: f(4),
        });
        off += 20;
    }
}

/// The symbols of a lookup (or address) table at `rva`.
pub fn table_syms(data: &[u8], rva: u32) -> Vec<Sym> {
    let mut out = Vec::new();
    let mut off = rva_to_off(data, rva);
    loop {
        let t = get64(data, off);
        if t == 0 {
            return out;
        }
        if t >> 63 == 1 {
            out.push(Sym::Ordinal(t as u16));
        } else {
            let hn = rva_to_off(data, t as u32);
            let name: &'static str = Box::leak(cstr(data, t as u32 + 2).into_boxed_str());
            out.push(Sym::Name(get16(data, hn), name));
        }
        off += 8;
    }
}

pub fn checksum_field(data: &[u8]) -> u32 {
    get32(data, OPT_OFFSET + 64)
}
