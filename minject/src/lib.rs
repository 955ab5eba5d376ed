//! Import-table editing for 64-bit Windows executables (PE32+), the library half of the
//! `minject` tool.
//!
//! [`inject`] makes a DLL (`mimalloc-override.dll` or `mimalloc-<postfix>.dll`) the first
//! module in an executable's import table, so that the Windows loader loads and
//! initialises it before any other module the program imports, and the allocator it
//! installs sees every allocation:
//!
//! - already imported and first: nothing changes;
//! - imported at a later position: its import descriptor moves to the front (the
//!   descriptors are permuted in place; nothing else moves);
//! - not imported: a new section `.minject` is appended that holds a new import
//!   directory: a descriptor for the DLL, importing `mi_version` by name, followed by
//!   copies of all the existing descriptors. The copies keep their import address
//!   tables (FirstThunk), so the program's code finds its imports where it always did;
//!   their names and lookup tables are copied into the new section too, so that the
//!   whole import table lies in one section (as `objdump -p` expects).
//!
//! Every change recomputes the PE checksum. See `minject/README.md` for the details and
//! the limits.

use std::fmt;

/// The postfix of the default DLL, `mimalloc-override.dll`.
pub const DEFAULT_POSTFIX: &str = "override";
/// The DLL's file name for a postfix: `mimalloc-<postfix>.dll`.
pub fn dll_name_for(postfix: &str) -> String {
    format!("mimalloc-{postfix}.dll")
}

/// The symbol imported from an added DLL (every mimalloc DLL exports it).
pub const IMPORT_SYMBOL: &str = "mi_version";
/// The name of the section that [`inject`] appends.
pub const SECTION_NAME: [u8; 8] = *b".minject";
/// Characteristics of the appended section: initialized data, readable and writable
/// (the loader writes the new import address table).
pub const SECTION_CHARACTERISTICS: u32 = 0x0000_0040 | 0x4000_0000 | 0x8000_0000;

/// `IMAGE_FILE_MACHINE_AMD64`.
pub const MACHINE_AMD64: u16 = 0x8664;
/// `IMAGE_FILE_MACHINE_ARM64`.
pub const MACHINE_ARM64: u16 = 0xaa64;

const PE32_MAGIC: u16 = 0x10b;
const PE32PLUS_MAGIC: u16 = 0x20b;
const COFF_HEADER_SIZE: usize = 20;
const SECTION_HEADER_SIZE: usize = 40;
const DESCRIPTOR_SIZE: usize = 20;
/// Offset of the data directories in a PE32+ optional header.
const DIRS_OFFSET: usize = 112;
const DIR_IMPORT: usize = 1;
const DIR_SECURITY: usize = 4;
const DIR_BOUND_IMPORT: usize = 11;
/// `IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY`: the image only loads with a valid signature.
const FORCE_INTEGRITY: u16 = 0x0080;
/// How many import descriptors we read at most (a sanity bound for corrupt files).
const MAX_DESCRIPTORS: usize = 65_536;
/// The longest DLL or symbol name we read.
const MAX_NAME: usize = 4096;

/// Why a file cannot be read or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not a PE file at all (no `MZ` header or no `PE\0\0` signature).
    NotPe(String),
    /// A 32-bit (PE32) image.
    Pe32,
    /// A PE32+ image for a machine other than x86-64 or ARM64.
    Machine(u16),
    /// The headers or the import table contradict themselves or the file size.
    Malformed(String),
    /// There is no free space for one more section header before the first section.
    NoRoom(String),
    /// A valid file that this tool does not know how to change safely.
    Unsupported(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotPe(why) => write!(f, "not a PE executable ({why})"),
            Error::Pe32 => write!(
                f,
                "a 32-bit (PE32) executable; only 64-bit (PE32+) executables are supported"
            ),
            Error::Machine(m) => write!(
                f,
                "machine type 0x{m:04x} is not supported (only x86-64 and ARM64 executables are)"
            ),
            Error::Malformed(why) => write!(f, "malformed PE file: {why}"),
            Error::NoRoom(why) => write!(
                f,
                "no room for another section header ({why}); link the program \
                 with the mimalloc dll instead"
            ),
            Error::Unsupported(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Error {}

type Result<T> = std::result::Result<T, Error>;

fn malformed<T>(why: impl Into<String>) -> Result<T> {
    Err(Error::Malformed(why.into()))
}

fn get<'a>(data: &'a [u8], off: usize, len: usize, what: &str) -> Result<&'a [u8]> {
    match off.checked_add(len) {
        Some(end) if end <= data.len() => Ok(&data[off..end]),
        _ => malformed(format!(
            "{what} at offset 0x{off:x} lies beyond the end of the file"
        )),
    }
}

fn rd16(data: &[u8], off: usize, what: &str) -> Result<u16> {
    let b = get(data, off, 2, what)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn rd32(data: &[u8], off: usize, what: &str) -> Result<u32> {
    let b = get(data, off, 4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn rd64(data: &[u8], off: usize, what: &str) -> Result<u64> {
    let b = get(data, off, 8, what)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

fn wr16(data: &mut [u8], off: usize, v: u16) {
    data[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn wr32(data: &mut [u8], off: usize, v: u32) {
    data[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// One entry of the section table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The 8 name bytes, NUL-padded.
    pub name: [u8; 8],
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub size_of_raw_data: u32,
    pub pointer_to_raw_data: u32,
    pub characteristics: u32,
}

impl Section {
    /// The name as text (long names of object files, `/123`, stay as they are).
    pub fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(8);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }

    /// How many bytes the loader maps for this section.
    fn mapped_size(&self) -> u32 {
        if self.virtual_size != 0 {
            self.virtual_size
        } else {
            self.size_of_raw_data
        }
    }
}

/// The parsed headers of a PE32+ image, with the file offsets of the fields we edit.
#[derive(Debug, Clone)]
pub struct Headers {
    pub machine: u16,
    /// File offset of the COFF header (just after `PE\0\0`).
    pub coff_offset: usize,
    /// File offset of the optional header.
    pub optional_offset: usize,
    /// File offset of the section table.
    pub section_table_offset: usize,
    pub sections: Vec<Section>,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub dll_characteristics: u16,
    /// How many data directories the optional header holds (at most 16).
    pub number_of_dirs: usize,
}

impl Headers {
    /// Parses and checks the DOS header, the PE signature, the COFF header, the PE32+
    /// optional header and the section table.
    pub fn parse(data: &[u8]) -> Result<Headers> {
        if data.len() < 0x40 || &data[0..2] != b"MZ" {
            return Err(Error::NotPe("no MZ header".into()));
        }
        let pe_offset = rd32(data, 0x3c, "e_lfanew")? as usize;
        if pe_offset
            .checked_add(4)
            .map_or(true, |end| end > data.len())
            || &data[pe_offset..pe_offset + 4] != b"PE\0\0"
        {
            return Err(Error::NotPe("no PE signature".into()));
        }
        let coff = pe_offset + 4;
        let machine = rd16(data, coff, "COFF header")?;
        let number_of_sections = rd16(data, coff + 2, "COFF header")? as usize;
        let size_of_optional = rd16(data, coff + 16, "COFF header")? as usize;
        let optional = coff + COFF_HEADER_SIZE;
        let magic = rd16(data, optional, "optional header")?;
        match magic {
            PE32PLUS_MAGIC => {}
            PE32_MAGIC => return Err(Error::Pe32),
            other => {
                return malformed(format!("unknown optional header magic 0x{other:04x}"));
            }
        }
        if machine != MACHINE_AMD64 && machine != MACHINE_ARM64 {
            return Err(Error::Machine(machine));
        }
        if size_of_optional < DIRS_OFFSET {
            return malformed(format!(
                "the optional header is {size_of_optional} bytes, too small for PE32+"
            ));
        }
        get(data, optional, size_of_optional, "optional header")?;
        let rd = |off: usize| rd32(data, optional + off, "optional header");
        let section_alignment = rd(32)?;
        let file_alignment = rd(36)?;
        let size_of_image = rd(56)?;
        let size_of_headers = rd(60)?;
        let dll_characteristics = rd16(data, optional + 70, "optional header")?;
        let declared_dirs = rd(108)? as usize;
        let number_of_dirs = declared_dirs.min(16);
        if DIRS_OFFSET + 8 * number_of_dirs > size_of_optional {
            return malformed(format!(
                "{declared_dirs} data directories do not fit in a {size_of_optional}-byte optional header"
            ));
        }
        if !file_alignment.is_power_of_two() || !section_alignment.is_power_of_two() {
            return malformed(format!(
                "alignments are not powers of two (file 0x{file_alignment:x}, section 0x{section_alignment:x})"
            ));
        }
        let section_table = optional + size_of_optional;
        let mut sections = Vec::with_capacity(number_of_sections);
        for i in 0..number_of_sections {
            let h = get(
                data,
                section_table + i * SECTION_HEADER_SIZE,
                SECTION_HEADER_SIZE,
                "section header",
            )?;
            let f = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
            let mut name = [0u8; 8];
            name.copy_from_slice(&h[..8]);
            if f(16) != 0 && f(20) as u64 + f(16) as u64 > data.len() as u64 {
                return malformed(format!(
                    "section {} ends at 0x{:x}, beyond the end of the file (0x{:x})",
                    i + 1,
                    f(20) as u64 + f(16) as u64,
                    data.len()
                ));
            }
            sections.push(Section {
                name,
                virtual_size: f(8),
                virtual_address: f(12),
                size_of_raw_data: f(16),
                pointer_to_raw_data: f(20),
                characteristics: f(36),
            });
        }
        Ok(Headers {
            machine,
            coff_offset: coff,
            optional_offset: optional,
            section_table_offset: section_table,
            sections,
            section_alignment,
            file_alignment,
            size_of_image,
            size_of_headers,
            dll_characteristics,
            number_of_dirs,
        })
    }

    /// File offset of the `CheckSum` field.
    pub fn checksum_offset(&self) -> usize {
        self.optional_offset + 64
    }

    /// File offset of data directory `index` (which must exist).
    fn dir_offset(&self, index: usize) -> usize {
        self.optional_offset + DIRS_OFFSET + 8 * index
    }

    /// Data directory `index` as (virtual address, size); (0, 0) when the optional
    /// header has fewer directories.
    pub fn dir(&self, data: &[u8], index: usize) -> Result<(u32, u32)> {
        if index >= self.number_of_dirs {
            return Ok((0, 0));
        }
        let off = self.dir_offset(index);
        Ok((
            rd32(data, off, "data directory")?,
            rd32(data, off + 4, "data directory")?,
        ))
    }

    /// The file offset of `len` bytes at `rva`, which must lie in the headers or in
    /// the raw data of one section.
    pub fn rva_to_offset(&self, rva: u32, len: usize, data: &[u8]) -> Result<usize> {
        let rva64 = rva as u64;
        let end = rva64 + len as u64;
        let offset = if end <= self.size_of_headers as u64
            && self
                .sections
                .iter()
                .all(|s| rva64 < s.virtual_address as u64)
        {
            Some(rva as usize)
        } else {
            self.sections.iter().find_map(|s| {
                let start = s.virtual_address as u64;
                let raw = s.size_of_raw_data.min(s.mapped_size()) as u64;
                (rva64 >= start && end <= start + raw)
                    .then(|| s.pointer_to_raw_data as usize + (rva - s.virtual_address) as usize)
            })
        };
        match offset {
            Some(off) if off + len <= data.len() => Ok(off),
            _ => malformed(format!(
                "RVA 0x{rva:x} (+{len} bytes) is not backed by data in the file"
            )),
        }
    }

    /// The bytes of the NUL-terminated string at `rva` (without the NUL).
    fn cstr_at<'a>(&self, data: &'a [u8], rva: u32, what: &str) -> Result<&'a [u8]> {
        let off = self.rva_to_offset(rva, 1, data)?;
        let tail = &data[off..data.len().min(off + MAX_NAME)];
        match tail.iter().position(|&b| b == 0) {
            Some(n) => Ok(&tail[..n]),
            None => malformed(format!("{what} at RVA 0x{rva:x} is not terminated")),
        }
    }

    /// The NUL-terminated string at `rva`, as text.
    fn string_at(&self, data: &[u8], rva: u32, what: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(self.cstr_at(data, rva, what)?).into_owned())
    }
}

/// One import descriptor (`IMAGE_IMPORT_DESCRIPTOR`) and the name of its module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The module's name as written in the file (`KERNEL32.dll`).
    pub name: String,
    /// RVA of the import lookup table (0 in old images that only have the IAT).
    pub original_first_thunk: u32,
    pub time_date_stamp: u32,
    pub forwarder_chain: u32,
    pub name_rva: u32,
    /// RVA of the import address table, which the loader fills in.
    pub first_thunk: u32,
}

impl Import {
    fn from_bytes(b: &[u8], name: String) -> Import {
        let f = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        Import {
            name,
            original_first_thunk: f(0),
            time_date_stamp: f(4),
            forwarder_chain: f(8),
            name_rva: f(12),
            first_thunk: f(16),
        }
    }

    fn to_bytes(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut b = [0u8; DESCRIPTOR_SIZE];
        for (i, v) in [
            self.original_first_thunk,
            self.time_date_stamp,
            self.forwarder_chain,
            self.name_rva,
            self.first_thunk,
        ]
        .into_iter()
        .enumerate()
        {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// One imported symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symbol {
    /// By name, with the loader's hint (an index into the DLL's export name table).
    Name { hint: u16, name: String },
    /// By ordinal.
    Ordinal(u16),
}

/// One raw entry of a lookup table.
enum Thunk {
    /// An import by ordinal: the whole 64-bit entry (bit 63 set).
    Ordinal(u64),
    Name {
        hint: u16,
        name: Vec<u8>,
    },
}

/// A parsed PE32+ image: its headers and its import descriptors, in order.
#[derive(Debug, Clone)]
pub struct Image {
    pub headers: Headers,
    pub imports: Vec<Import>,
    /// File offset of the import directory (meaningless when `imports` is empty).
    pub import_dir_offset: usize,
}

impl Image {
    /// Parses the headers and the import directory. The descriptors end, as for the
    /// Windows loader, at the first one with a zero `Name` or `FirstThunk`.
    pub fn parse(data: &[u8]) -> Result<Image> {
        let headers = Headers::parse(data)?;
        let (rva, _size) = headers.dir(data, DIR_IMPORT)?;
        let mut imports = Vec::new();
        let mut import_dir_offset = 0;
        if rva != 0 {
            import_dir_offset = headers.rva_to_offset(rva, DESCRIPTOR_SIZE, data)?;
            for i in 0.. {
                if i == MAX_DESCRIPTORS {
                    return malformed("the import directory does not end");
                }
                let d_rva = rva as u64 + (i * DESCRIPTOR_SIZE) as u64;
                let d_rva = u32::try_from(d_rva)
                    .or_else(|_| malformed("the import directory runs past 4 GiB"))?;
                let off = headers.rva_to_offset(d_rva, DESCRIPTOR_SIZE, data)?;
                let b = &data[off..off + DESCRIPTOR_SIZE];
                let raw = Import::from_bytes(b, String::new());
                if raw.name_rva == 0 || raw.first_thunk == 0 {
                    break;
                }
                if off != import_dir_offset + i * DESCRIPTOR_SIZE {
                    return malformed("the import directory is split across sections");
                }
                let name = headers.string_at(data, raw.name_rva, "a module name")?;
                imports.push(Import { name, ..raw });
            }
        }
        Ok(Image {
            headers,
            imports,
            import_dir_offset,
        })
    }

    /// The symbols `import` brings in, read from its lookup table (or from its address
    /// table when it has none).
    pub fn symbols(&self, data: &[u8], import: &Import) -> Result<Vec<Symbol>> {
        Ok(self
            .thunks(data, import, &mut thunk_budget(data))?
            .into_iter()
            .map(|t| match t {
                Thunk::Ordinal(raw) => Symbol::Ordinal(raw as u16),
                Thunk::Name { hint, name } => Symbol::Name {
                    hint,
                    name: String::from_utf8_lossy(&name).into_owned(),
                },
            })
            .collect())
    }

    /// The thunks of `import`, counted against `budget` (see `thunk_budget`).
    fn thunks(&self, data: &[u8], import: &Import, budget: &mut usize) -> Result<Vec<Thunk>> {
        let table = if import.original_first_thunk != 0 {
            import.original_first_thunk
        } else {
            import.first_thunk
        };
        let mut out = Vec::new();
        let mut rva = table as u64;
        loop {
            if *budget == 0 {
                return malformed(format!(
                    "the thunk tables hold more entries than the file has room for (at {})",
                    import.name
                ));
            }
            *budget -= 1;
            let thunk_rva =
                u32::try_from(rva).or_else(|_| malformed("a thunk table runs past 4 GiB"))?;
            rva += 8;
            let off = self.headers.rva_to_offset(thunk_rva, 8, data)?;
            let thunk = rd64(data, off, "thunk")?;
            if thunk == 0 {
                return Ok(out);
            }
            if thunk & (1 << 63) != 0 {
                out.push(Thunk::Ordinal(thunk));
            } else {
                let hn = (thunk & 0x7fff_ffff) as u32;
                let hoff = self.headers.rva_to_offset(hn, 2, data)?;
                let hint = rd16(data, hoff, "hint")?;
                let name = self
                    .headers
                    .cstr_at(data, hn + 2, "a symbol name")?
                    .to_vec();
                out.push(Thunk::Name { hint, name });
            }
        }
    }

    /// Position of `dll` among the imports (compared without regard to case, as
    /// Windows does).
    pub fn position(&self, dll: &str) -> Option<usize> {
        self.imports
            .iter()
            .position(|i| i.name.eq_ignore_ascii_case(dll))
    }
}

/// What [`inject`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The DLL was already the first import: the output is the input.
    AlreadyFirst,
    /// The DLL was imported at index `from` (0-based) and now comes first.
    Moved { from: usize },
    /// The DLL was not imported; a new import directory in a new section imports it first.
    Added,
}

/// The result of [`inject`]: the new file contents, what changed, and warnings for the
/// user (for example that a signature was removed).
#[derive(Debug, Clone)]
pub struct Injected {
    pub data: Vec<u8>,
    pub change: Change,
    pub warnings: Vec<String>,
}

/// Makes `dll` the first import of the PE32+ image `input`; see the crate docs.
pub fn inject(input: &[u8], dll: &str) -> Result<Injected> {
    if dll.is_empty() || dll.contains('\0') {
        return Err(Error::Unsupported(format!("invalid DLL name '{dll}'")));
    }
    let image = Image::parse(input)?;
    match image.position(dll) {
        Some(0) => Ok(Injected {
            data: input.to_vec(),
            change: Change::AlreadyFirst,
            warnings: Vec::new(),
        }),
        Some(from) => {
            let mut data = input.to_vec();
            // (`parse` checked that the descriptors lie one after the other)
            let dir = image.import_dir_offset;
            data[dir..dir + (from + 1) * DESCRIPTOR_SIZE].rotate_right(DESCRIPTOR_SIZE);
            let mut warnings = Vec::new();
            strip_signature(&image.headers, &mut data, &mut warnings)?;
            update_checksum(&image.headers, &mut data);
            Ok(Injected {
                data,
                change: Change::Moved { from },
                warnings,
            })
        }
        None => add_import(&image, input, dll),
    }
}

/// Removes an Authenticode signature (the certificate table, data directory 4): any
/// change to the file invalidates it. When the certificates are the last bytes of the
/// file they are cut off; the directory entry is cleared in any case.
fn strip_signature(
    headers: &Headers,
    data: &mut Vec<u8>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let (offset, size) = headers.dir(data, DIR_SECURITY)?;
    if size == 0 {
        return Ok(());
    }
    let dir = headers.dir_offset(DIR_SECURITY);
    wr32(data, dir, 0);
    wr32(data, dir + 4, 0);
    let end = offset as usize + size as usize;
    // The table is 8-byte aligned; allow the padding a signing tool may leave after it.
    if end <= data.len()
        && data.len() - end < 8
        && offset as usize >= headers.size_of_headers as usize
    {
        data.truncate(offset as usize);
    }
    warnings.push(
        "the executable was signed; its signature no longer matches and was removed (sign the output again if it must be signed)"
            .into(),
    );
    if headers.dll_characteristics & FORCE_INTEGRITY != 0 {
        warnings.push(
            "the executable requires a valid signature to load (FORCE_INTEGRITY); it will not load until it is signed again"
                .into(),
        );
    }
    Ok(())
}

/// How many thunks the imports of `data` may have in all: no more than the file has room
/// for, which bounds the work (and the output) for a corrupt file whose descriptors all
/// point at one huge table.
fn thunk_budget(data: &[u8]) -> usize {
    data.len() / 8
}

/// Builds a new import directory with `dll` first in a new section appended to the file.
fn add_import(image: &Image, input: &[u8], dll: &str) -> Result<Injected> {
    let h = &image.headers;
    if h.number_of_dirs <= DIR_IMPORT {
        return Err(Error::Unsupported(
            "the optional header has no import directory entry".into(),
        ));
    }
    // Bound imports are pre-resolved addresses checked against the DLLs' time stamps;
    // the new layout invalidates them (and their table often sits just where the new
    // section header goes), so every descriptor becomes unbound.
    for imp in &image.imports {
        if imp.time_date_stamp != 0 && imp.original_first_thunk == 0 {
            return Err(Error::Unsupported(format!(
                "the imports of {} are bound and have no lookup table, so they cannot be unbound",
                imp.name
            )));
        }
    }
    let mut data = input.to_vec();
    let mut warnings = Vec::new();

    let n = h.sections.len();
    let new_header = h.section_table_offset + n * SECTION_HEADER_SIZE;

    // Clear the bound import directory (its bytes too, when they are in the headers after
    // the section table).
    let (bound_rva, bound_size) = h.dir(&data, DIR_BOUND_IMPORT)?;
    if bound_rva != 0 || bound_size != 0 {
        let (start, end) = (bound_rva as usize, bound_rva as usize + bound_size as usize);
        if end <= h.size_of_headers as usize && end <= data.len() {
            if start >= new_header {
                data[start..end].fill(0);
            } else if end > h.section_table_offset {
                return malformed("the bound import table overlaps the section table");
            }
        }
        let dir = h.dir_offset(DIR_BOUND_IMPORT);
        wr32(&mut data, dir, 0);
        wr32(&mut data, dir + 4, 0);
    }

    // Room for one more section header: inside SizeOfHeaders, before the first
    // section's raw data, and over bytes that hold nothing.
    let new_header_end = new_header + SECTION_HEADER_SIZE;
    let first_raw = h
        .sections
        .iter()
        .filter(|s| s.size_of_raw_data != 0 && s.pointer_to_raw_data != 0)
        .map(|s| s.pointer_to_raw_data as usize)
        .min()
        .unwrap_or(usize::MAX);
    if new_header_end > h.size_of_headers as usize {
        return Err(Error::NoRoom(format!(
            "the headers end at 0x{:x} and the section table already reaches 0x{new_header:x}",
            h.size_of_headers
        )));
    }
    if new_header_end > first_raw {
        return Err(Error::NoRoom(format!(
            "the first section's data starts at 0x{first_raw:x}, the section table reaches 0x{new_header:x}"
        )));
    }
    if new_header_end > data.len() {
        return malformed("the file ends inside its headers");
    }
    if data[new_header..new_header_end].iter().any(|&b| b != 0) {
        return Err(Error::NoRoom(format!(
            "the {SECTION_HEADER_SIZE} bytes after the section table (at 0x{new_header:x}) are in use"
        )));
    }

    strip_signature(h, &mut data, &mut warnings)?;

    // Where the new section goes: after every section in memory, after everything
    // (sections and any trailing data such as a COFF symbol table) in the file.
    let va_end = h
        .sections
        .iter()
        .map(|s| s.virtual_address as u64 + s.mapped_size() as u64)
        .max()
        .unwrap_or(h.size_of_headers as u64);
    let va = va_end.next_multiple_of(h.section_alignment as u64);
    let raw_ptr = (data.len() as u64).next_multiple_of(h.file_alignment as u64);

    // The section's contents: the descriptors (ours, copies of the existing ones, a
    // zero terminator), then the hint/name entries and module names, then the lookup
    // tables and our address table. The existing modules get copies of their lookup
    // tables, hint/name entries and names here too (so that the whole import table
    // lies in one section, which tools such as objdump expect); their FirstThunk stays:
    // the program's code reads its imports from those address tables.
    let count = image.imports.len() + 2;
    let dir_size = count * DESCRIPTOR_SIZE;
    let mut sec = vec![0u8; dir_size];
    let push_hint_name = |sec: &mut Vec<u8>, hint: u16, name: &[u8]| -> usize {
        if sec.len() % 2 != 0 {
            sec.push(0);
        }
        let at = sec.len();
        sec.extend_from_slice(&hint.to_le_bytes());
        sec.extend_from_slice(name);
        sec.push(0);
        if sec.len() % 2 != 0 {
            sec.push(0);
        }
        at
    };
    let push_name = |sec: &mut Vec<u8>, name: &[u8]| -> usize {
        let at = sec.len();
        sec.extend_from_slice(name);
        sec.push(0);
        at
    };
    let our_hint_name = push_hint_name(&mut sec, 0, IMPORT_SYMBOL.as_bytes());
    let our_name = push_name(&mut sec, dll.as_bytes());
    let mut copies = Vec::with_capacity(image.imports.len());
    let mut budget = thunk_budget(input);
    for imp in &image.imports {
        let name = push_name(&mut sec, h.cstr_at(input, imp.name_rva, "a module name")?);
        let mut thunks = Vec::new();
        for t in image.thunks(input, imp, &mut budget)? {
            thunks.push(match t {
                Thunk::Ordinal(raw) => Err(raw),
                Thunk::Name { hint, name } => Ok(push_hint_name(&mut sec, hint, &name)),
            });
        }
        copies.push((name, thunks));
    }
    sec.resize(sec.len().next_multiple_of(8), 0);
    let size_before_tables = sec.len();
    let tables = 16 + 16 + copies.iter().map(|(_, t)| 8 * (t.len() + 1)).sum::<usize>();
    let size = size_before_tables + tables;
    let raw_size = (size as u64).next_multiple_of(h.file_alignment as u64);
    let image_end = va + (size as u64).next_multiple_of(h.section_alignment as u64);
    if image_end > u32::MAX as u64 || raw_ptr + raw_size > u32::MAX as u64 {
        return Err(Error::Unsupported("the image would grow past 4 GiB".into()));
    }
    let (va, raw_ptr, raw_size) = (va as u32, raw_ptr as u32, raw_size as u32);
    let rva = |off: usize| va + off as u32;
    let push_thunk = |sec: &mut Vec<u8>, v: u64| sec.extend_from_slice(&v.to_le_bytes());
    let our_ilt = sec.len();
    push_thunk(&mut sec, rva(our_hint_name) as u64);
    push_thunk(&mut sec, 0);
    let our_iat = sec.len();
    push_thunk(&mut sec, rva(our_hint_name) as u64);
    push_thunk(&mut sec, 0);
    let ours = Import {
        name: dll.to_string(),
        original_first_thunk: rva(our_ilt),
        time_date_stamp: 0,
        forwarder_chain: 0,
        name_rva: rva(our_name),
        first_thunk: rva(our_iat),
    };
    sec[..DESCRIPTOR_SIZE].copy_from_slice(&ours.to_bytes());
    for (i, (imp, (name, thunks))) in image.imports.iter().zip(&copies).enumerate() {
        let ilt = sec.len();
        for t in thunks {
            match *t {
                Ok(hint_name) => push_thunk(&mut sec, rva(hint_name) as u64),
                Err(ordinal) => push_thunk(&mut sec, ordinal),
            }
        }
        push_thunk(&mut sec, 0);
        let copy = Import {
            name: imp.name.clone(),
            original_first_thunk: rva(ilt),
            time_date_stamp: 0,
            forwarder_chain: imp.forwarder_chain,
            name_rva: rva(*name),
            first_thunk: imp.first_thunk,
        };
        let off = (i + 1) * DESCRIPTOR_SIZE;
        sec[off..off + DESCRIPTOR_SIZE].copy_from_slice(&copy.to_bytes());
    }
    debug_assert_eq!(sec.len(), size);
    sec.resize(raw_size as usize, 0);

    // The section header.
    let mut hdr = [0u8; SECTION_HEADER_SIZE];
    hdr[..8].copy_from_slice(&SECTION_NAME);
    wr32(&mut hdr, 8, size as u32);
    wr32(&mut hdr, 12, va);
    wr32(&mut hdr, 16, raw_size);
    wr32(&mut hdr, 20, raw_ptr);
    wr32(&mut hdr, 36, SECTION_CHARACTERISTICS);
    data[new_header..new_header_end].copy_from_slice(&hdr);

    // COFF and optional header fields.
    let number_of_sections = u16::try_from(n + 1)
        .map_err(|_| Error::Unsupported("the image has too many sections".into()))?;
    wr16(&mut data, h.coff_offset + 2, number_of_sections);
    let opt = h.optional_offset;
    let initialized = rd32(&data, opt + 8, "optional header")?;
    wr32(&mut data, opt + 8, initialized.wrapping_add(raw_size));
    wr32(&mut data, opt + 56, image_end as u32);
    let dir = h.dir_offset(DIR_IMPORT);
    wr32(&mut data, dir, va);
    wr32(&mut data, dir + 4, dir_size as u32);

    data.resize(raw_ptr as usize, 0);
    data.extend_from_slice(&sec);
    update_checksum(h, &mut data);
    Ok(Injected {
        data,
        change: Change::Added,
        warnings,
    })
}

fn update_checksum(headers: &Headers, data: &mut [u8]) {
    let off = headers.checksum_offset();
    let sum = pe_checksum(data, off);
    wr32(data, off, sum);
}

/// The PE image checksum (as `CheckSumMappedFile` computes it): the 16-bit one's
/// complement sum of the file's little-endian words, with the four bytes of the
/// `CheckSum` field at `checksum_offset` taken as zero and an odd last byte as a word
/// of its own, plus the file's length.
pub fn pe_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let byte = |i: usize| -> u32 {
        if i >= checksum_offset && i < checksum_offset + 4 {
            0
        } else {
            data.get(i).copied().unwrap_or(0) as u32
        }
    };
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < data.len() {
        sum += byte(i) | (byte(i + 1) << 8);
        sum = (sum & 0xffff) + (sum >> 16);
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum.wrapping_add(data.len() as u32)
}
