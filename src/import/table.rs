//! Reading a spreadsheet as rows of text: XLSX (calamine) or delimited text (CSV, or the
//! tab-separated "Unicode text" Excel exports) in UTF-8 with or without BOM, UTF-16 with BOM, or
//! GBK/GB18030 (what Excel on a Chinese Windows saves as "CSV"). Row numbers are the ones a user
//! sees in Excel: the header is row 1 (or wherever it is), blank rows keep their numbers.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};

/// Data rows a file may have (not counting blank rows and the header).
pub const MAX_ROWS: usize = 100_000;
/// Columns a row may reach (Excel 2003's limit: no merchant file comes near it).
pub const MAX_COLUMNS: usize = 256;
/// Cells kept in all (each row counted to its last cell): 100,000 rows of 30 columns.
pub const MAX_CELLS: usize = 3_000_000;
/// What the parts of an XLSX file may unpack to in all (a zip of repeated text compresses a
/// thousandfold; the shared strings are loaded whole).
pub const MAX_XLSX_UNPACKED: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The row number of the header row.
    pub header_row: usize,
    pub headers: Vec<String>,
    /// Data rows that are not blank, with their row number.
    pub rows: Vec<(usize, Vec<String>)>,
    /// How the file was read, e.g. `csv/gbk`, `xlsx`.
    pub format: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("the file is neither CSV nor XLSX (old .xls files: save as .xlsx or CSV)")]
    UnsupportedFormat,
    #[error("the text is neither UTF-8 nor GBK")]
    UnknownEncoding,
    #[error("the file has no header row")]
    Empty,
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
    #[error("the file has more than {MAX_ROWS} data rows: split it into several imports")]
    TooManyRows,
    #[error(
        "row {row} has a cell in column {column}; at most {MAX_COLUMNS} columns are read \
         (delete the stray cells, or save only the merchant columns)"
    )]
    TooManyColumns { row: usize, column: usize },
    #[error(
        "the file has more than {MAX_CELLS} cells: split it, or drop the columns not imported"
    )]
    TooManyCells,
    #[error("the XLSX file unpacks to more than {} MiB", MAX_XLSX_UNPACKED / 1024 / 1024)]
    TooLarge,
}

impl TableError {
    /// The stable code of a field error about the file.
    pub fn code(&self) -> &'static str {
        match self {
            TableError::TooManyRows => "too_many_rows",
            TableError::TooManyColumns { .. } => "too_many_columns",
            TableError::TooManyCells => "too_many_cells",
            TableError::TooLarge => "file_too_large",
            _ => "unreadable_file",
        }
    }
}

/// Counts what a file holds as it is read, refusing it as soon as a limit is passed.
#[derive(Default)]
struct Budget {
    rows: usize,
    cells: usize,
}

impl Budget {
    /// A non-blank row numbered `number` (as Excel shows it) of `width` cells.
    fn row(&mut self, number: usize, width: usize) -> Result<(), TableError> {
        if width > MAX_COLUMNS {
            return Err(TableError::TooManyColumns {
                row: number,
                column: width,
            });
        }
        self.rows += 1;
        self.cells += width;
        // The first row is the header.
        if self.rows > MAX_ROWS + 1 {
            return Err(TableError::TooManyRows);
        }
        if self.cells > MAX_CELLS {
            return Err(TableError::TooManyCells);
        }
        Ok(())
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0];

pub fn read(bytes: &[u8]) -> Result<Table, TableError> {
    if bytes.starts_with(ZIP_MAGIC) {
        return read_xlsx(bytes);
    }
    if bytes.starts_with(OLE_MAGIC) || bytes.starts_with(b"%PDF") {
        return Err(TableError::UnsupportedFormat);
    }
    let (text, encoding) = decode_text(bytes)?;
    if text.contains('\0') {
        return Err(TableError::UnsupportedFormat);
    }
    read_delimited(&text, encoding)
}

/// Decodes text, telling the encodings apart: a BOM wins; valid UTF-8 is UTF-8; otherwise GBK
/// (decoded as GB18030, its superset), which must decode without errors.
pub fn decode_text(bytes: &[u8]) -> Result<(String, &'static str), TableError> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        if had_errors {
            return Err(TableError::UnknownEncoding);
        }
        let name = if enc == encoding_rs::UTF_8 {
            "utf-8-bom"
        } else {
            "utf-16"
        };
        return Ok((text.into_owned(), name));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), "utf-8"));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(TableError::UnknownEncoding);
    }
    Ok((text.into_owned(), "gbk"))
}

fn delimiter(first_line: &str) -> u8 {
    let count = |c| first_line.matches(c).count();
    let (tabs, commas, semis) = (count('\t'), count(','), count(';'));
    if tabs > commas && tabs >= semis {
        b'\t'
    } else if semis > commas {
        b';'
    } else {
        b','
    }
}

fn read_delimited(text: &str, encoding: &'static str) -> Result<Table, TableError> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(first))
        .from_reader(text.as_bytes());
    let mut header: Option<(usize, Vec<String>)> = None;
    let mut rows = Vec::new();
    let mut budget = Budget::default();
    // The csv reader's own line count skips blank lines; count newlines up to each record's
    // byte offset instead, so that numbers match what a spreadsheet shows.
    let bytes = text.as_bytes();
    let (mut counted_to, mut line) = (0usize, 1usize);
    for record in reader.records() {
        let record = record.map_err(|e| TableError::Unreadable(e.to_string()))?;
        let start = record
            .position()
            .map(|p| p.byte() as usize)
            .unwrap_or(counted_to);
        let mut start = start.clamp(counted_to, bytes.len());
        // The reported start may include the blank lines skipped before the record.
        while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        line += bytes[counted_to..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted_to = start;
        // Up to the last non-blank cell: trailing separators (a spreadsheet saved as CSV pads
        // every row to its widest) are not cells.
        let width = record.len()
            - record
                .iter()
                .rev()
                .take_while(|c| c.trim().is_empty())
                .count();
        if width == 0 {
            continue;
        }
        budget.row(line, width)?;
        let cells: Vec<String> = record.iter().take(width).map(str::to_owned).collect();
        if header.is_none() {
            header = Some((line, cells));
        } else {
            rows.push((line, cells));
        }
    }
    let (header_row, headers) = header.ok_or(TableError::Empty)?;
    Ok(Table {
        header_row,
        headers,
        rows,
        format: match encoding {
            "gbk" => "csv/gbk",
            "utf-16" => "csv/utf-16",
            "utf-8-bom" => "csv/utf-8-bom",
            _ => "csv/utf-8",
        },
    })
}

/// Excel's serial date (days since 1899-12-30, with its 1900 leap-year bug baked in).
fn excel_date(serial: f64) -> Option<chrono::NaiveDate> {
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    base.checked_add_days(chrono::Days::new(serial.trunc() as u64))
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Phone numbers and codes typed as numbers: no ".0", no exponent.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e17 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) => s.chars().take(10).collect(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Refuses an XLSX whose parts unpack to more than [`MAX_XLSX_UNPACKED`] in all, by unpacking
/// them (sizes in the zip's directory can lie) into nothing, before calamine loads any of them.
fn check_unpacked_size(bytes: &[u8], limit: u64) -> Result<(), TableError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| TableError::Unreadable(e.to_string()))?;
    let mut left = limit;
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| TableError::Unreadable(e.to_string()))?;
        let read = std::io::copy(&mut entry.take(left + 1), &mut std::io::sink())
            .map_err(|e| TableError::Unreadable(e.to_string()))?;
        if read > left {
            return Err(TableError::TooLarge);
        }
        left -= read;
    }
    Ok(())
}

/// The first sheet, read cell by cell: a sheet's cells are kept sparsely, so a stray cell far
/// away (XFD1048576) costs one cell, not the rectangle up to it that calamine's `Range` would
/// allocate (rows × columns, 16 billion cells at the extreme).
fn read_xlsx(bytes: &[u8]) -> Result<Table, TableError> {
    check_unpacked_size(bytes, MAX_XLSX_UNPACKED)?;
    let unreadable = |e: calamine::XlsxError| TableError::Unreadable(e.to_string());
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let sheet = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or(TableError::Empty)?;
    let mut reader = book.worksheet_cells_reader(&sheet).map_err(unreadable)?;
    // Row (0-based) → its non-blank cells (column, text).
    let mut sheet_rows: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    let mut cells = 0usize;
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.trim().is_empty() {
            continue;
        }
        if col as usize >= MAX_COLUMNS {
            return Err(TableError::TooManyColumns {
                row: row as usize + 1,
                column: col as usize + 1,
            });
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(TableError::TooManyCells);
        }
        sheet_rows.entry(row).or_default().push((col, text));
        if sheet_rows.len() > MAX_ROWS + 1 {
            return Err(TableError::TooManyRows);
        }
    }
    drop(reader);
    let mut budget = Budget::default();
    let mut header: Option<(usize, Vec<String>)> = None;
    let mut rows = Vec::new();
    for (row, row_cells) in sheet_rows {
        let number = row as usize + 1;
        // Column positions kept: a sheet may start right of column A, or skip columns.
        let width = row_cells
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        budget.row(number, width)?;
        let mut cells = vec![String::new(); width];
        for (c, text) in row_cells {
            cells[c as usize] = text;
        }
        if header.is_none() {
            header = Some((number, cells));
        } else {
            rows.push((number, cells));
        }
    }
    let (header_row, headers) = header.ok_or(TableError::Empty)?;
    Ok(Table {
        header_row,
        headers,
        rows,
        format: "xlsx",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom_and_blank_lines() {
        let t = read("a,b\n\n1,2\n,\n3,4\n".as_bytes()).unwrap();
        assert_eq!(t.format, "csv/utf-8");
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(t.rows[0], (3, vec!["1".into(), "2".into()]));
        assert_eq!(t.rows[1].0, 5);
        let t = read(b"\xEF\xBB\xBF\xE5\x90\x8D\xE7\xA7\xB0,b\n1,2\n").unwrap();
        assert_eq!(t.format, "csv/utf-8-bom");
        assert_eq!(t.headers[0], "名称");
    }

    #[test]
    fn gbk_is_detected() {
        let (bytes, _, _) = encoding_rs::GBK.encode("名称,地址\n藏家饭店,马尔康\n");
        let t = read(&bytes).unwrap();
        assert_eq!(t.format, "csv/gbk");
        assert_eq!(t.rows[0].1, ["藏家饭店", "马尔康"]);
    }

    #[test]
    fn utf16_tab_separated_export() {
        let text = "名称\t地址\r\n藏家饭店\t马尔康\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let t = read(&bytes).unwrap();
        assert_eq!(t.format, "csv/utf-16");
        assert_eq!(t.rows[0].1, ["藏家饭店", "马尔康"]);
    }

    #[test]
    fn quoted_newlines_keep_row_numbers_of_their_start() {
        let t = read("a,b\n\"x\ny\",2\n3,4\n".as_bytes()).unwrap();
        assert_eq!(t.rows[0].0, 2);
        assert_eq!(t.rows[1].0, 4);
    }

    #[test]
    fn refuses_binary_and_garbage() {
        assert_eq!(
            read(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0]),
            Err(TableError::UnsupportedFormat)
        );
        assert_eq!(read(b"%PDF-1.7"), Err(TableError::UnsupportedFormat));
        assert_eq!(read(&[0x81, 0x20, 0xFF]), Err(TableError::UnknownEncoding));
        assert_eq!(read(b"\n\n"), Err(TableError::Empty));
    }

    #[test]
    fn a_zip_that_unpacks_too_far_is_refused_before_calamine_sees_it() {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("xl/sharedStrings.xml", opts).unwrap();
        std::io::Write::write_all(&mut zip, &vec![b'a'; 3 << 20]).unwrap();
        zip.finish().unwrap();
        let bytes = out.into_inner();
        assert!(bytes.len() < 100_000);
        assert_eq!(check_unpacked_size(&bytes, 3 << 20), Ok(()));
        assert_eq!(
            check_unpacked_size(&bytes, 2 << 20),
            Err(TableError::TooLarge)
        );
    }

    #[test]
    fn csv_limits() {
        let wide = format!("a,b\n1{}\n", ",x".repeat(MAX_COLUMNS));
        assert_eq!(
            read(wide.as_bytes()),
            Err(TableError::TooManyColumns {
                row: 2,
                column: MAX_COLUMNS + 1
            })
        );
        // Trailing separators are not cells.
        let padded = format!("a,b{}\n1,2{}\n", ",".repeat(400), ",".repeat(400));
        assert_eq!(read(padded.as_bytes()).unwrap().rows[0].1, ["1", "2"]);
        let long = format!("a\n{}", "1\n".repeat(MAX_ROWS + 1));
        assert_eq!(read(long.as_bytes()), Err(TableError::TooManyRows));
    }

    #[test]
    fn excel_serial_dates() {
        assert_eq!(
            excel_date(43605.0),
            chrono::NaiveDate::from_ymd_opt(2019, 5, 20)
        );
        assert_eq!(cell_text(&Data::Float(13812345678.0)), "13812345678");
    }
}
