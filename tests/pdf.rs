//! PDF intake against real files (the invoice2data, e-invoice and CUAD corpora), PDFs built here
//! with lopdf (scans in every encoding, encryption, embedded files, hostile structures), and the
//! text-extraction sandbox with the real `liasse` executable and with helpers that misbehave.
//!
//! Tests that need OCR (they call the real libtesseract through `Ocr`): `scan_g4_is_read_by_ocr`,
//! `scan_jpeg_strips_are_read_by_ocr`, `image_only_corpus_pdf_is_read_by_ocr`,
//! `text_layer_failure_falls_back_to_ocr`, `text_in_an_image_beside_the_text_layer_is_appended_with_its_boxes`,
//! `an_image_repeating_the_text_layer_adds_nothing`.

use liasse::config::{Config, SandboxConfig};
use liasse::document::{PageMethod, Warning, squash};
use liasse::intake::pdf::{self, PdfRead};
use liasse::intake::sandbox::{Sandbox, SandboxError};
use liasse::intake::{Deadline, FailureKind, Input, Intake, IntakeError};
use lopdf::{Dictionary, Document, Object, Stream, dictionary};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CORPUS: &str = "../shared/corpus";

fn corpus(rel: &str) -> PathBuf {
    Path::new(CORPUS).join(rel)
}

fn intake_with(config: &Config) -> Intake {
    Intake::new(config).expect("intake starts")
}

/// The intake with the default configuration, shared by the tests (its OCR engines start once).
fn intake() -> &'static Intake {
    static INTAKE: std::sync::OnceLock<Intake> = std::sync::OnceLock::new();
    INTAKE.get_or_init(|| intake_with(&Config::default()))
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

fn read(intake: &Intake, bytes: &[u8]) -> Result<PdfRead, IntakeError> {
    pdf::read(intake, bytes, deadline())
}

fn has_warning(warnings: &[Warning], code: &str) -> bool {
    warnings.iter().any(|w| w.code == code)
}

// -------------------------------------------------------------------------------------------------
// PDFs built for the tests

struct TestPage {
    media: [f64; 4],
    rotate: i64,
    text: Option<String>,
    /// Image XObjects and the matrix that places each.
    images: Vec<(Stream, [f64; 6])>,
}

impl TestPage {
    fn letter() -> TestPage {
        TestPage { media: [0.0, 0.0, 612.0, 792.0], rotate: 0, text: None, images: vec![] }
    }
    fn with_text(mut self, t: &str) -> Self {
        self.text = Some(t.to_string());
        self
    }
    fn with_image(mut self, s: Stream, m: [f64; 6]) -> Self {
        self.images.push((s, m));
        self
    }
}

/// A document with these pages (Helvetica text, image XObjects), its catalog id returned too.
fn build(pages: Vec<TestPage>) -> (Document, lopdf::ObjectId) {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let mut kids = Vec::new();
    for p in pages {
        let mut xobjects = Dictionary::new();
        let mut content = String::new();
        for (i, (stream, m)) in p.images.into_iter().enumerate() {
            let id = doc.add_object(stream);
            let name = format!("Im{i}");
            xobjects.set(name.clone(), id);
            content.push_str(&format!(
                "q {} {} {} {} {} {} cm /{name} Do Q\n",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ));
        }
        if let Some(t) = &p.text {
            let mut y = 720;
            for line in t.lines() {
                let escaped = line.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
                content.push_str(&format!("BT /F1 11 Tf 72 {y} Td ({escaped}) Tj ET\n"));
                y -= 14;
            }
        }
        let content_id = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
        let page = dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => p.media.iter().map(|v| Object::Real(*v as f32)).collect::<Vec<_>>(),
            "Rotate" => p.rotate,
            "Contents" => content_id,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font }, "XObject" => xobjects },
        };
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(b"liasse-test-id-0".to_vec()),
            Object::string_literal(b"liasse-test-id-0".to_vec()),
        ],
    );
    (doc, catalog)
}

fn save(mut doc: Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saves");
    out
}

fn image_stream(width: u32, height: u32, entries: Dictionary, data: Vec<u8>) -> Stream {
    let mut d = dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => width as i64, "Height" => height as i64 };
    for (k, v) in entries.iter() {
        d.set(k.clone(), v.clone());
    }
    Stream::new(d, data).with_compression(false)
}

/// The invoice2data sample rendered at 200 dpi (1700×2200), in grey.
fn sammy_gray() -> image::GrayImage {
    image::open(corpus("invoice2data/tests/compare/SammyMaystoneLinesTest.png"))
        .expect("the sample image")
        .to_luma8()
}

/// The same, black and white (what a fax-mode scanner gives).
fn sammy_bits() -> image::GrayImage {
    let mut g = sammy_gray();
    g.pixels_mut().for_each(|p| p.0[0] = if p.0[0] < 160 { 0 } else { 255 });
    g
}

fn g4(img: &image::GrayImage) -> Vec<u8> {
    use fax::{Color, VecWriter, encoder::Encoder};
    let mut enc = Encoder::new(VecWriter::new());
    for row in img.rows() {
        enc.encode_line(
            row.map(|p| if p.0[0] == 0 { Color::Black } else { Color::White }),
            img.width() as u16,
        )
        .unwrap();
    }
    enc.finish().unwrap().finish()
}

fn g4_image(img: &image::GrayImage) -> Stream {
    let (w, h) = img.dimensions();
    image_stream(
        w,
        h,
        dictionary! {
            "BitsPerComponent" => 1, "ColorSpace" => "DeviceGray", "Filter" => "CCITTFaxDecode",
            "DecodeParms" => dictionary! { "K" => -1, "Columns" => w as i64, "Rows" => h as i64 },
        },
        g4(img),
    )
}

fn jpeg_image(img: &image::GrayImage, quality: u8) -> Stream {
    let mut data = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, quality).encode_image(img).unwrap();
    let (w, h) = img.dimensions();
    image_stream(
        w,
        h,
        dictionary! { "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray", "Filter" => "DCTDecode" },
        data,
    )
}

const FULL_LETTER: [f64; 6] = [612.0, 0.0, 0.0, 792.0, 0.0, 0.0];

fn config() -> Config {
    Config::default()
}

// -------------------------------------------------------------------------------------------------
// Real PDFs with a text layer

#[test]
fn invoice2data_text_layers_carry_the_invoice_numbers() {
    let intake = intake();
    let dir = corpus("invoice2data/tests/compare");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("pdf") {
            continue;
        }
        let truth: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
        let number = truth[0]["invoice_number"].as_str().unwrap().trim_start_matches('#');
        let bytes = std::fs::read(&path).unwrap();
        let r = read(intake, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(r.info.page_count as usize, r.pages.len());
        assert!(r.pages.iter().all(|p| p.method == PageMethod::TextLayer), "{}", path.display());
        let all: String = r.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n");
        assert!(all.contains(number), "{}: {number} not in the text", path.display());
        assert!(!has_warning(&r.warnings, "text_layer_garbled"), "{}", path.display());
        assert!(!r.info.version.is_empty());
        seen += 1;
    }
    assert_eq!(seen, 11);
}

#[test]
fn info_dictionary_and_page_count() {
    let bytes = std::fs::read(corpus("invoice2data/tests/compare/QualityHosting.pdf")).unwrap();
    let r = read(intake(), &bytes).unwrap();
    assert_eq!(r.info.page_count, 2);
    assert!(!r.info.encrypted);
    // Dates come out as RFC 3339.
    if let Some(d) = &r.info.created {
        assert!(chrono::DateTime::parse_from_rfc3339(d).is_ok(), "{d}");
    }

    let (mut doc, _) =
        build(vec![TestPage::letter().with_text("Facture 2024-0042 du 12 mars 2024, total 1 234,56 EUR")]);
    let info = doc.add_object(dictionary! {
        "Title" => Object::String(b"\xFE\xFF\x00F\x00a\x00c\x00t\x00u\x00r\x00e\x00 \x00\xE9\x00t\x00\xE9".to_vec(), lopdf::StringFormat::Hexadecimal),
        "Author" => Object::string_literal(b"Soci\xE9t\xE9 \x80 Test".to_vec()),
        "Producer" => Object::string_literal("Liasse tests"),
        "CreationDate" => Object::string_literal("D:20240312093000+01'00'"),
        "ModDate" => Object::string_literal("not a date"),
    });
    doc.trailer.set("Info", info);
    let r = read(intake(), &save(doc)).unwrap();
    assert_eq!(r.info.title.as_deref(), Some("Facture été"));
    assert_eq!(r.info.author.as_deref(), Some("Société \u{2022} Test"));
    assert_eq!(r.info.producer.as_deref(), Some("Liasse tests"));
    assert_eq!(r.info.created.as_deref(), Some("2024-03-12T09:30:00+01:00"));
    assert_eq!(r.info.modified.as_deref(), Some("not a date"));
    assert_eq!(r.pages[0].method, PageMethod::TextLayer);
    assert!(r.pages[0].text.contains("Facture 2024-0042"));
}

#[test]
fn cuad_contracts_read_page_by_page() {
    let intake = intake();
    let root = corpus("cuad/full_contract_pdf/Part_I/Distributor");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("pdf"))
        .collect();
    files.sort();
    let txt_dir = corpus("cuad/full_contract_txt");
    let mut compared = 0;
    for path in files.iter().take(6) {
        let bytes = std::fs::read(path).unwrap();
        let r = read(intake, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(r.pages.len() > 1, "{}", path.display());
        assert_eq!(r.pages.len(), r.info.page_count as usize);
        for (i, p) in r.pages.iter().enumerate() {
            assert_eq!(p.number as usize, i + 1);
        }
        let with_text = r.pages.iter().filter(|p| p.method == PageMethod::TextLayer).count();
        assert!(with_text * 10 >= r.pages.len() * 9, "{}: {with_text} of {}", path.display(), r.pages.len());
        // CUAD's own text of the same contract: most of its words are in ours.
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let txt = txt_dir.join(format!("{stem}.txt"));
        if let Ok(truth) = std::fs::read_to_string(&txt) {
            let ours = squash(&r.pages.iter().map(|p| p.text.as_str()).collect::<String>());
            let words: Vec<String> = truth.split_whitespace().map(squash).filter(|w| w.len() >= 6).collect();
            let found = words.iter().filter(|w| ours.contains(w.as_str())).count();
            assert!(found * 100 >= words.len() * 90, "{}: {found} of {} words", path.display(), words.len());
            compared += 1;
        }
    }
    assert!(compared >= 3, "only {compared} contracts had their text");
}

// -------------------------------------------------------------------------------------------------
// Embedded files

#[test]
fn einvoice_corpus_attachments_are_found_with_their_names_and_bytes() {
    let config = config();
    let gt = std::fs::read_to_string(corpus("einvoices/_ground_truth/ground_truth.jsonl")).unwrap();
    let mut checked = 0;
    for line in gt.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(expected) = row["attachments"].as_array() else { continue };
        let path = corpus("einvoices").join(row["pdf"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let r =
            pdf::inspect(&config, &bytes, deadline()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut ours: Vec<&str> = r.embedded.iter().map(|e| e.attachment.name.as_str()).collect();
        let mut theirs: Vec<String> =
            expected.iter().map(|v| liasse::intake::safe_name(v.as_str().unwrap())).collect();
        ours.sort();
        theirs.sort();
        if row["pdf"].as_str()
            == Some("mustangproject_testres/validator/src/test/resources/corruptedV2PDF.pdf")
        {
            // Its page tree is broken and the ground truth's reader (like pdfdetach) lists no
            // attachment; the catalog's name tree and /AF do hold these two.
            assert_eq!(ours, ["ZUGFeRD-invoice.xml", "factur-x.xml"]);
            continue;
        }
        assert_eq!(ours, theirs, "{}", path.display());
        if let (Some(xml_name), Some(xml_file)) = (row["xml_name"].as_str(), row["xml_file"].as_str()) {
            let e = r.embedded.iter().find(|e| e.attachment.name == xml_name).unwrap();
            // The extracted XML sits under the ground truth, in the folder of the PDF's collection.
            let collection = row["pdf"].as_str().unwrap().split('/').next().unwrap();
            let truth =
                std::fs::read(corpus("einvoices/_ground_truth").join(collection).join(xml_file)).unwrap();
            assert_eq!(e.bytes, truth, "{}", path.display());
            assert_eq!(e.attachment.size, truth.len() as u64);
            assert_eq!(e.attachment.content_hash, liasse::document::ContentHash::of(&truth));
        }
        checked += 1;
    }
    assert!(checked >= 130, "{checked}");
}

#[test]
fn factur_x_metadata_of_the_attachment() {
    let path = corpus("einvoices/zugferd_corpus/XML-Rechnung/FX/EN16931_Einfach.pdf");
    let r = read(intake(), &std::fs::read(path).unwrap()).unwrap();
    let fx = r.embedded.iter().find(|e| e.attachment.name == "factur-x.xml").expect("factur-x.xml");
    assert_eq!(fx.attachment.media_type.as_deref(), Some("text/xml"));
    assert!(fx.attachment.relationship.is_some());
    assert!(fx.bytes.starts_with(b"<?xml") || fx.bytes.starts_with(b"\xEF\xBB\xBF<?xml"));
}

/// A filespec listed in the EmbeddedFiles name tree (under a kid node) and in the catalog's /AF
/// array is one attachment.
#[test]
fn embedded_file_found_twice_is_one_attachment() {
    let (mut doc, catalog) = build(vec![TestPage::letter().with_text("Facture avec pièce jointe numéro 77")]);
    let xml = b"<?xml version=\"1.0\"?><rsm:CrossIndustryInvoice/>".to_vec();
    let file = doc.add_object(Stream::new(
        dictionary! { "Type" => "EmbeddedFile", "Subtype" => "text/xml" },
        xml.clone(),
    ));
    let spec = doc.add_object(dictionary! {
        "Type" => "Filespec",
        "F" => Object::string_literal("../../factur-x.xml"),
        "UF" => Object::String(b"\xFE\xFF\x00f\x00a\x00c\x00t\x00u\x00r\x00-\x00x\x00.\x00x\x00m\x00l".to_vec(), lopdf::StringFormat::Hexadecimal),
        "AFRelationship" => "Alternative",
        "EF" => dictionary! { "F" => file, "UF" => file },
    });
    let kid = doc.add_object(
        dictionary! { "Names" => vec![Object::string_literal("factur-x.xml"), Object::Reference(spec)] },
    );
    let tree = doc.add_object(dictionary! { "Kids" => vec![Object::Reference(kid)] });
    let cat = doc.get_dictionary_mut(catalog).unwrap();
    cat.set("Names", dictionary! { "EmbeddedFiles" => tree });
    cat.set("AF", vec![Object::Reference(spec)]);
    let r = read(intake(), &save(doc)).unwrap();
    assert_eq!(r.embedded.len(), 1);
    let a = &r.embedded[0].attachment;
    assert_eq!(a.name, "factur-x.xml");
    assert_eq!(a.media_type.as_deref(), Some("text/xml"));
    assert_eq!(a.relationship.as_deref(), Some("Alternative"));
    assert_eq!(r.embedded[0].bytes, xml);
}

#[test]
fn name_tree_cycles_and_missing_streams_do_not_hang() {
    let (mut doc, catalog) =
        build(vec![TestPage::letter().with_text("Facture numéro 88 avec arbre cyclique")]);
    let node = doc.new_object_id();
    let spec = doc.add_object(dictionary! { "Type" => "Filespec", "F" => Object::string_literal("lost.xml"), "EF" => dictionary! { "F" => Object::Reference((9999, 0)) } });
    doc.objects.insert(
        node,
        Object::Dictionary(dictionary! { "Kids" => vec![Object::Reference(node)], "Names" => vec![Object::string_literal("lost.xml"), Object::Reference(spec)] }),
    );
    doc.get_dictionary_mut(catalog).unwrap().set("Names", dictionary! { "EmbeddedFiles" => node });
    let r = read(intake(), &save(doc)).unwrap();
    assert!(r.embedded.is_empty());
    assert!(has_warning(&r.warnings, "attachment_unreadable"));
}

// -------------------------------------------------------------------------------------------------
// Encryption

fn encrypted(user: &str, owner: &str, version: u8) -> Vec<u8> {
    use lopdf::encryption::crypt_filters::{Aes128CryptFilter, Aes256CryptFilter, CryptFilter};
    use lopdf::{EncryptionState, EncryptionVersion, Permissions};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let (mut doc, _) =
        build(vec![TestPage::letter().with_text("Facture chiffree numero 2024-777 total 99,00 EUR")]);
    let info = doc.add_object(dictionary! { "Title" => Object::string_literal("Secret invoice") });
    doc.trailer.set("Info", info);
    let key = [7u8; 32];
    let v = match version {
        2 => EncryptionVersion::V2 {
            document: &doc,
            owner_password: owner,
            user_password: user,
            key_length: 128,
            permissions: Permissions::all(),
        },
        4 => {
            let f: Arc<dyn CryptFilter> = Arc::new(Aes128CryptFilter);
            EncryptionVersion::V4 {
                document: &doc,
                encrypt_metadata: true,
                crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), f)]),
                stream_filter: b"StdCF".to_vec(),
                string_filter: b"StdCF".to_vec(),
                owner_password: owner,
                user_password: user,
                permissions: Permissions::all(),
            }
        }
        _ => {
            let f: Arc<dyn CryptFilter> = Arc::new(Aes256CryptFilter);
            EncryptionVersion::V5 {
                encrypt_metadata: true,
                crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), f)]),
                file_encryption_key: &key,
                stream_filter: b"StdCF".to_vec(),
                string_filter: b"StdCF".to_vec(),
                owner_password: owner,
                user_password: user,
                permissions: Permissions::all(),
            }
        }
    };
    let state = EncryptionState::try_from(v).expect("encryption state");
    doc.encrypt(&state).expect("encrypts");
    save(doc)
}

#[test]
fn encrypted_with_a_user_password_is_encrypted() {
    let intake = intake();
    for version in [2, 4, 5] {
        let bytes = encrypted("s3cret", "owner", version);
        match read(intake, &bytes) {
            Err(IntakeError::Encrypted(_)) => {}
            other => panic!("V{version}: {:?}", other.map(|r| r.info)),
        }
        // Through the whole intake too.
        let items = intake.read(Input::file(bytes, "secret.pdf", None));
        assert_eq!(items[0].result.as_ref().unwrap_err().kind(), FailureKind::Encrypted);
    }
}

#[test]
fn encrypted_with_the_empty_password_opens_and_its_text_is_read() {
    let intake = intake();
    for version in [2, 4, 5] {
        let bytes = encrypted("", "owner-only", version);
        let r = read(intake, &bytes).unwrap_or_else(|e| panic!("V{version}: {e}"));
        assert!(r.info.encrypted, "V{version}");
        assert_eq!(r.info.title.as_deref(), Some("Secret invoice"), "V{version}");
        assert_eq!(r.pages[0].method, PageMethod::TextLayer, "V{version}: {:?}", r.warnings);
        assert!(r.pages[0].text.contains("2024-777"), "V{version}: {:?}", r.pages[0].text);
    }
}

// -------------------------------------------------------------------------------------------------
// Hostile and broken input

fn kind(r: &Result<PdfRead, IntakeError>) -> Option<FailureKind> {
    r.as_ref().err().map(IntakeError::kind)
}

#[test]
fn random_bytes_after_the_header_are_corrupt() {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut seed = 0x9E37_79B9_u32;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        bytes.push(seed as u8);
    }
    let r = read(intake(), &bytes);
    assert_eq!(kind(&r), Some(FailureKind::Corrupt));
    if let Err(IntakeError::Corrupt(m)) = r {
        assert!(m.len() < 300, "{m}");
    }
    assert_eq!(kind(&read(intake(), b"%PDF-1.4\n%%EOF")), Some(FailureKind::Corrupt));
}

#[test]
fn truncated_pdfs_fail_cleanly_or_read_what_is_there() {
    let intake = intake();
    let bytes = std::fs::read(corpus("invoice2data/tests/compare/free_fiber.pdf")).unwrap();
    for cut in [bytes.len() / 10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 200] {
        let r = read(intake, &bytes[..cut]);
        match &r {
            Ok(r) => assert!(!r.pages.is_empty()),
            Err(e) => assert!(matches!(e.kind(), FailureKind::Corrupt | FailureKind::Empty), "{cut}: {e}"),
        }
    }
}

#[test]
fn deep_nesting_and_reference_cycles_do_not_crash() {
    let intake = intake();
    // 200 000 nested arrays in an object.
    let mut bytes = b"%PDF-1.4\n1 0 obj\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'[', 200_000));
    bytes.extend(std::iter::repeat_n(b']', 200_000));
    bytes.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    assert!(read(intake, &bytes).is_err());

    // A page tree whose Kids point back at itself, and a form that draws itself.
    let (mut doc, _) = build(vec![TestPage::letter().with_text("Cycle test page with some words 12345")]);
    let pages_id = doc.catalog().unwrap().get(b"Pages").unwrap().as_reference().unwrap();
    let page_id = doc.get_pages()[&1];
    let form = doc.new_object_id();
    doc.objects.insert(
        form,
        Object::Stream(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                "Resources" => dictionary! { "XObject" => dictionary! { "Me" => form } } },
            b"q 1 0 0 1 1 1 cm /Me Do Q".to_vec(),
        )),
    );
    let content = doc.add_object(Stream::new(
        Dictionary::new(),
        b"/Fm Do BT /F1 11 Tf 72 700 Td (Cycle test page with some words 12345) Tj ET".to_vec(),
    ));
    {
        let page = doc.get_dictionary_mut(page_id).unwrap();
        page.set("Contents", content);
        let res = page.get_mut(b"Resources").unwrap().as_dict_mut().unwrap();
        res.set("XObject", dictionary! { "Fm" => form });
    }
    doc.get_dictionary_mut(pages_id)
        .unwrap()
        .set("Kids", vec![Object::Reference(page_id), Object::Reference(pages_id)]);
    let r = read(intake, &save(doc));
    match r {
        Ok(r) => assert!(r.pages.iter().any(|p| p.text.contains("12345"))),
        Err(e) => assert!(matches!(e.kind(), FailureKind::Corrupt | FailureKind::Empty), "{e}"),
    }
}

#[test]
fn page_limit_is_enforced() {
    let (doc, _) = build(vec![TestPage::letter().with_text("one"), TestPage::letter().with_text("two")]);
    let mut config = config();
    config.limits.max_pages = 1;
    let r = read(&intake_with(&config), &save(doc));
    assert_eq!(r.err(), Some(IntakeError::TooLarge { what: "the page count", actual: 2, limit: 1 }));
}

#[test]
fn image_beyond_the_pixel_limit_is_refused_before_decoding() {
    // Claims 100 000 × 100 000 pixels.
    let img = image_stream(
        100_000,
        100_000,
        dictionary! { "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray", "Filter" => "FlateDecode" },
        vec![0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    let (doc, _) = build(vec![TestPage::letter().with_image(img, FULL_LETTER)]);
    let r = pdf::page_image(&config(), &save(doc), 1);
    match r {
        Err(IntakeError::Corrupt(m)) => assert!(m.contains("limit"), "{m}"),
        other => panic!("{:?}", other.map(|o| o.map(|i| i.image.dimensions()))),
    }
}

// -------------------------------------------------------------------------------------------------
// Scans: page images from image XObjects

#[test]
fn g4_scan_page_image_is_the_scanned_bitmap() {
    let bits = sammy_bits();
    let (doc, _) = build(vec![TestPage::letter().with_image(g4_image(&bits), FULL_LETTER)]);
    let page = pdf::page_image(&config(), &save(doc), 1).unwrap().expect("an image");
    assert_eq!(page.dpi, 200);
    assert_eq!(page.image.dimensions(), bits.dimensions());
    assert!(page.image == bits, "the page image differs from the scanned bitmap");
}

#[test]
fn strips_are_composited_and_rotation_applied() {
    let bits = sammy_bits();
    let (w, h) = bits.dimensions();
    let strip_rows = h / 4;
    let mut page = TestPage::letter();
    for k in 0..4 {
        let strip = image::imageops::crop_imm(&bits, 0, k * strip_rows, w, strip_rows).to_image();
        let height_pt = 792.0 / 4.0;
        let y = 792.0 - height_pt * f64::from(k + 1);
        page = page.with_image(g4_image(&strip), [612.0, 0.0, 0.0, height_pt, 0.0, y]);
    }
    page.rotate = 90;
    let (doc, _) = build(vec![page]);
    let img = pdf::page_image(&config(), &save(doc), 1).unwrap().expect("an image");
    assert_eq!(img.dpi, 200);
    let upright = image::imageops::rotate90(&bits);
    assert_eq!(img.image.dimensions(), upright.dimensions());
    assert!(img.image == upright, "the composited strips differ from the scan");
}

#[test]
fn image_placed_flipped_or_turned_by_its_matrix() {
    let bits = sammy_bits();
    // An image stored bottom-up and drawn with a flipping matrix [w 0 0 -h 0 h] is upright.
    let flipped = image::imageops::flip_vertical(&bits);
    let (doc, _) =
        build(vec![TestPage::letter().with_image(g4_image(&flipped), [612.0, 0.0, 0.0, -792.0, 0.0, 792.0])]);
    let img = pdf::page_image(&config(), &save(doc), 1).unwrap().unwrap();
    assert!(img.image == bits);
    // A landscape page whose portrait image is drawn turned a quarter clockwise.
    let mut page = TestPage::letter();
    page.media = [0.0, 0.0, 792.0, 612.0];
    let turned = image::imageops::rotate90(&bits);
    let page = page.with_image(g4_image(&bits), [0.0, -612.0, 792.0, 0.0, 0.0, 612.0]);
    let (doc, _) = build(vec![page]);
    let img = pdf::page_image(&config(), &save(doc), 1).unwrap().unwrap();
    assert_eq!(img.image.dimensions(), turned.dimensions());
    assert!(img.image == turned);
}

#[test]
fn jpeg_scan_page_image() {
    let gray = sammy_gray();
    let (doc, _) = build(vec![TestPage::letter().with_image(jpeg_image(&gray, 90), FULL_LETTER)]);
    let img = pdf::page_image(&config(), &save(doc), 1).unwrap().unwrap();
    assert_eq!(img.dpi, 200);
    assert_eq!(img.image.dimensions(), gray.dimensions());
    let diff: u64 =
        img.image.pixels().zip(gray.pixels()).map(|(a, b)| u64::from(a.0[0].abs_diff(b.0[0]))).sum();
    let mean = diff as f64 / f64::from(gray.width() * gray.height());
    assert!(mean < 4.0, "mean difference {mean}");
}

#[test]
fn flate_rgb_with_png_predictor_indexed_and_stencil() {
    let gray = image::imageops::resize(&sammy_gray(), 425, 550, image::imageops::FilterType::Nearest);
    let (w, h) = gray.dimensions();
    // RGB samples (a tinted copy), PNG "Sub" predictor on every row, then Flate.
    let rgb: Vec<[u8; 3]> = gray.pixels().map(|p| [p.0[0], p.0[0] / 2 + 100, 255 - p.0[0] / 3]).collect();
    let mut predicted = Vec::new();
    for y in 0..h as usize {
        predicted.push(1u8);
        let row: Vec<u8> = rgb[y * w as usize..(y + 1) * w as usize].iter().flatten().copied().collect();
        for (i, b) in row.iter().enumerate() {
            let left = if i >= 3 { row[i - 3] } else { 0 };
            predicted.push(b.wrapping_sub(left));
        }
    }
    let mut img = image_stream(
        w,
        h,
        dictionary! { "BitsPerComponent" => 8, "ColorSpace" => "DeviceRGB",
        "DecodeParms" => dictionary! { "Predictor" => 15, "Colors" => 3, "Columns" => w as i64, "BitsPerComponent" => 8 } },
        predicted,
    );
    img.compress().unwrap();
    assert_eq!(img.dict.get(b"Filter").unwrap().as_name().unwrap(), b"FlateDecode");
    // 425×550 pixels on half a letter page: 100 dpi.
    let (doc, _) = build(vec![TestPage::letter().with_image(img, [306.0, 0.0, 0.0, 396.0, 0.0, 0.0])]);
    let page = pdf::page_image(&config(), &save(doc), 1).unwrap().unwrap();
    assert_eq!(page.dpi, 100);
    let expected: Vec<u8> = rgb
        .iter()
        .map(|p| (0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])).round() as u8)
        .collect();
    assert_eq!(page.image.as_raw(), &expected);

    // 2-bit Indexed with its palette in a stream, and an inverted stencil on top.
    let (iw, ih) = (320u32, 200u32);
    let cell = |x: u32, y: u32| ((x / 80 + y / 50) % 4) as usize;
    let mut samples = Vec::new();
    for y in 0..ih {
        let mut row = vec![0u8; (iw as usize * 2).div_ceil(8)];
        for x in 0..iw {
            let idx = cell(x, y) as u8;
            row[(x / 4) as usize] |= idx << (6 - 2 * (x % 4));
        }
        samples.extend(row);
    }
    let indexed = image_stream(
        iw,
        ih,
        dictionary! { "BitsPerComponent" => 2,
        "ColorSpace" => vec![Object::Name(b"Indexed".to_vec()), Object::Name(b"DeviceRGB".to_vec()), 3.into(),
            Object::String(vec![255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255], lopdf::StringFormat::Hexadecimal)] },
        samples,
    );
    let mask_bits: Vec<u8> =
        (0..ih).flat_map(|y| vec![if y < 100 { 0xFF } else { 0x00 }; (iw as usize).div_ceil(8)]).collect();
    let stencil = image_stream(
        iw,
        ih,
        dictionary! { "ImageMask" => true, "Decode" => vec![1.into(), 0.into()] },
        mask_bits,
    );
    // Both at 72 dpi in the page's corner: the page image is the region they cover.
    let m = [f64::from(iw), 0.0, 0.0, f64::from(ih), 0.0, 0.0];
    let (doc, _) = build(vec![TestPage::letter().with_image(indexed, m).with_image(stencil, m)]);
    let page = pdf::page_image(&config(), &save(doc), 1).unwrap().unwrap();
    assert_eq!(page.image.dimensions(), (iw, ih));
    let luma = [255u8, 0, 76, 29];
    for y in 0..ih {
        for x in 0..iw {
            let want = if y < 100 { 0 } else { luma[cell(x, y)] };
            assert_eq!(page.image.get_pixel(x, y).0[0], want, "({x},{y})");
        }
    }
}

/// A page whose content draws `form_content` through a form XObject, with the text "x".
fn page_with_form(form_content: Vec<u8>) -> Vec<u8> {
    let (mut doc, _) = build(vec![TestPage::letter()]);
    let page_id = doc.get_pages()[&1];
    let form = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 612.into(), 792.into()] },
        form_content,
    ));
    let content =
        doc.add_object(Stream::new(Dictionary::new(), b"/Fm1 Do BT /F1 11 Tf 72 700 Td (x) Tj ET".to_vec()));
    let page = doc.get_dictionary_mut(page_id).unwrap();
    page.set("Contents", content);
    page.get_mut(b"Resources").unwrap().as_dict_mut().unwrap().set("XObject", dictionary! { "Fm1" => form });
    save(doc)
}

/// An inline image (BI … ID … EI) with abbreviated keys, drawn inside a form XObject.
#[test]
fn inline_image_inside_a_form() {
    // 16×16 grey: left half black, right half white.
    let mut form_content = b"q 612 0 0 792 0 0 cm BI /W 16 /H 16 /BPC 8 /CS /G ID ".to_vec();
    for _ in 0..16 {
        form_content.extend([0x00; 8]);
        form_content.extend([0xFF; 8]);
    }
    form_content.extend_from_slice(b" EI Q");
    let bytes = page_with_form(form_content);
    let img = pdf::page_image(&config(), &bytes, 1).unwrap().expect("the inline image");
    // 16 pixels over a page is far below any believable resolution: drawn at the lowest one.
    assert_eq!(img.dpi, 70);
    let (w, h) = img.image.dimensions();
    assert_eq!(img.image.get_pixel(w / 4, h / 2).0[0], 0);
    assert_eq!(img.image.get_pixel(3 * w / 4, h / 2).0[0], 255);
    let structure = pdf::inspect(&config(), &bytes, deadline()).unwrap();
    assert_eq!(structure.info.image_count, 1);
}

/// An inline image with a filter, which lopdf's content parser skips, gives a warning when the
/// page needed OCR.
#[test]
fn skipped_inline_image_gives_a_warning() {
    let bytes =
        page_with_form(b"q 612 0 0 792 0 0 cm BI /W 2 /H 2 /BPC 8 /CS /G /F /AHx ID 00FF00FF> EI Q".to_vec());
    let r = read(intake(), &bytes).unwrap();
    let w = r.warnings.iter().find(|w| w.code == "image_unsupported").expect("a warning");
    assert_eq!(w.page, Some(1));
    assert!(w.message.contains("inline"), "{}", w.message);
    assert_eq!(r.pages[0].method, PageMethod::TextLayer);
}

#[test]
fn jbig2_image_gives_a_warning_not_a_panic() {
    let img = image_stream(
        1700,
        2200,
        dictionary! { "BitsPerComponent" => 1, "ColorSpace" => "DeviceGray", "Filter" => "JBIG2Decode" },
        vec![0u8; 64],
    );
    let (doc, _) = build(vec![TestPage::letter().with_text("Scan").with_image(img, FULL_LETTER)]);
    let bytes = save(doc);
    let r = read(intake(), &bytes).unwrap();
    let w = r.warnings.iter().find(|w| w.code == "image_unsupported").expect("a warning");
    assert_eq!(w.page, Some(1));
    assert!(w.message.contains("JBIG2"));
    assert_eq!(r.pages[0].method, PageMethod::TextLayer);
    assert_eq!(r.pages[0].text.trim(), "Scan");
    assert_eq!(r.info.image_count, 1);
    assert!(pdf::page_image(&config(), &bytes, 1).unwrap().is_none());
}

// -------------------------------------------------------------------------------------------------
// OCR of scanned pages (needs the real OCR engine)

#[test]
fn scan_g4_is_read_by_ocr() {
    let bits = sammy_bits();
    let (doc, _) = build(vec![TestPage::letter().with_image(g4_image(&bits), FULL_LETTER)]);
    let items = intake().read(Input::file(save(doc), "scan.pdf", None));
    let doc = items[0].result.as_ref().expect("read");
    let p = &doc.pages[0];
    assert_eq!(p.method, PageMethod::Ocr);
    let info = p.ocr.as_ref().expect("OCR info");
    assert_eq!((info.image_width, info.image_height, info.dpi), (1700, 2200, 200));
    let text = p.text.to_lowercase();
    assert!(text.contains("maystone") && text.contains("invoice") && text.contains("127.50"), "{}", p.text);
    assert!(!p.words.is_empty());
}

#[test]
fn scan_jpeg_strips_are_read_by_ocr() {
    // Two pages: text, then a JPEG scan cut in two strips.
    let gray = sammy_gray();
    let (w, h) = gray.dimensions();
    let top = image::imageops::crop_imm(&gray, 0, 0, w, h / 2).to_image();
    let bottom = image::imageops::crop_imm(&gray, 0, h / 2, w, h / 2).to_image();
    let scan = TestPage::letter()
        .with_image(jpeg_image(&top, 85), [612.0, 0.0, 0.0, 396.0, 0.0, 396.0])
        .with_image(jpeg_image(&bottom, 85), [612.0, 0.0, 0.0, 396.0, 0.0, 0.0]);
    let (doc, _) =
        build(vec![TestPage::letter().with_text("Bordereau d'envoi numero 4512 du 3 janvier"), scan]);
    let r = read(intake(), &save(doc)).unwrap();
    assert_eq!(r.pages[0].method, PageMethod::TextLayer);
    assert_eq!(r.pages[1].method, PageMethod::Ocr);
    assert!(r.pages[1].text.to_lowercase().contains("maystone"), "{}", r.pages[1].text);
}

/// A real PDF whose pages are only images (RGB, Flate, 720 dpi), from the e-invoice corpus.
#[test]
fn image_only_corpus_pdf_is_read_by_ocr() {
    let path = corpus("einvoices/mustangproject_testres/validator/src/test/resources/invalidPDF.pdf");
    let r = read(intake(), &std::fs::read(path).unwrap()).unwrap();
    assert_eq!(r.pages.len(), 5);
    let p = &r.pages[0];
    assert_eq!(p.method, PageMethod::Ocr);
    // Scaled down from 720 dpi to the 400 dpi page images are made at.
    assert_eq!(p.ocr.as_ref().map(|o| (o.image_width, o.image_height, o.dpi)), Some((3306, 4678, 400)));
    assert!(p.text.contains("Theodor Est") && p.text.contains("Bahnstr"), "{}", p.text);
    assert!(r.pages.iter().all(|p| p.method == PageMethod::Ocr));
}

#[test]
fn text_layer_failure_falls_back_to_ocr() {
    let dir = scripts();
    let mut config = config();
    config.sandbox.helper = Some(dir.join("crash"));
    let bits = sammy_bits();
    let (doc, _) = build(vec![TestPage::letter().with_text("x").with_image(g4_image(&bits), FULL_LETTER)]);
    let r = read(&intake_with(&config), &save(doc)).unwrap();
    assert!(has_warning(&r.warnings, "text_layer_failed"));
    assert_eq!(r.pages[0].method, PageMethod::Ocr);
    assert!(r.pages[0].text.to_lowercase().contains("maystone"));
}

// -------------------------------------------------------------------------------------------------
// The sandbox

/// Helper executables that misbehave, in a folder of their own (written once per test run).
fn scripts() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("liasse-pdf-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, body) in [
            ("sleep", "#!/bin/sh\nexec /bin/sleep 60\n"),
            ("crash", "#!/bin/sh\nkill -SEGV $$\n"),
            ("garbage", "#!/bin/sh\necho 'not json'\n"),
            ("fail", "#!/bin/sh\necho 'first line' >&2\necho 'cannot do it' >&2\nexit 5\n"),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    })
    .clone()
}

fn sandbox(helper: &Path, timeout: u64) -> Sandbox {
    Sandbox::new(&SandboxConfig {
        helper: Some(helper.to_path_buf()),
        text_timeout_secs: timeout,
        memory_limit_mb: 4096,
        ..SandboxConfig::default()
    })
}

fn sample_pdf() -> Vec<u8> {
    std::fs::read(corpus("invoice2data/tests/compare/AmazonWebServices.pdf")).unwrap()
}

#[test]
fn sandbox_finds_the_liasse_executable() {
    let s = Sandbox::new(&SandboxConfig::default());
    let found = s.helper().expect("a helper").canonicalize().unwrap();
    let built = Path::new(env!("CARGO_BIN_EXE_liasse")).canonicalize().unwrap();
    assert_eq!(found, built);
}

#[test]
fn sandbox_child_and_in_process_give_the_same_pages() {
    let bytes = std::fs::read(corpus("invoice2data/tests/compare/free_fiber.pdf")).unwrap();
    let child = Sandbox::new(&SandboxConfig::default()).extract_text(&bytes, &deadline()).unwrap();
    let inproc = Sandbox::in_process(&SandboxConfig::default()).extract_text(&bytes, &deadline()).unwrap();
    assert_eq!(child.len(), 2);
    assert_eq!(child, inproc);
    assert!(child.iter().all(|p| p.text.as_deref().is_some_and(|t| !t.trim().is_empty())));
}

#[test]
fn sandbox_helper_that_never_reads_times_out() {
    let s = sandbox(&scripts().join("sleep"), 1);
    // Larger than a pipe's buffer: writing it must not block us.
    let big = vec![b'%'; 4 * 1024 * 1024];
    let started = std::time::Instant::now();
    assert_eq!(s.extract_text(&big, &deadline()), Err(SandboxError::TimedOut(Duration::from_secs(1))));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn sandbox_helper_crash_garbage_and_failure() {
    let dir = scripts();
    let pdf = sample_pdf();
    assert!(matches!(
        sandbox(&dir.join("crash"), 30).extract_text(&pdf, &deadline()),
        Err(SandboxError::Crashed(_))
    ));
    assert!(matches!(
        sandbox(&dir.join("garbage"), 30).extract_text(&pdf, &deadline()),
        Err(SandboxError::Failed(_))
    ));
    assert_eq!(
        sandbox(&dir.join("fail"), 30).extract_text(&pdf, &deadline()),
        Err(SandboxError::Failed("cannot do it".into()))
    );
    assert!(matches!(
        sandbox(&dir.join("does-not-exist"), 30).extract_text(&pdf, &deadline()),
        Err(SandboxError::Unavailable(_))
    ));
}

#[test]
fn sandbox_child_reports_an_unreadable_pdf() {
    let s = Sandbox::new(&SandboxConfig::default());
    match s.extract_text(b"%PDF-1.4\nnothing here", &deadline()) {
        Err(SandboxError::Unreadable(m)) => assert!(m.contains("pdf-extract"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// pdf-extract's older lopdf cannot parse this file's trailer; it reads the copy our lopdf writes.
#[test]
fn text_layer_of_a_file_pdf_extract_cannot_parse_is_read_from_a_rewritten_copy() {
    let path =
        corpus("einvoices/oca_edi_fr/account_invoice_import_facturx/tests/files/Facture_FR_EXTENDED.pdf");
    let bytes = std::fs::read(path).unwrap();
    assert!(matches!(
        Sandbox::new(&SandboxConfig::default()).extract_text(&bytes, &deadline()),
        Err(SandboxError::Unreadable(_))
    ));
    let r = read(intake(), &bytes).unwrap();
    assert!(has_warning(&r.warnings, "text_layer_rewritten"), "{:?}", r.warnings);
    assert_eq!(r.pages[0].method, PageMethod::TextLayer);
    assert!(r.pages[0].text.contains("FA-2017-0010"), "{}", r.pages[0].text);
}

#[test]
fn text_layer_timeout_is_a_warning_and_the_rest_is_kept() {
    // A text page and an embedded file: the text layer times out, the attachment is still read.
    let (mut doc, catalog) = build(vec![TestPage::letter().with_text("Facture 5150 avec fichier joint")]);
    let file = doc.add_object(Stream::new(dictionary! { "Subtype" => "text/xml" }, b"<x/>".to_vec()));
    let spec = doc.add_object(dictionary! { "Type" => "Filespec", "F" => Object::string_literal("a.xml"), "EF" => dictionary! { "F" => file } });
    doc.get_dictionary_mut(catalog).unwrap().set("AF", vec![Object::Reference(spec)]);
    let bytes = save(doc);
    let mut config = config();
    config.sandbox.helper = Some(scripts().join("sleep"));
    config.sandbox.text_timeout_secs = 1;
    let r = read(&intake_with(&config), &bytes).unwrap();
    assert!(has_warning(&r.warnings, "text_layer_timed_out"), "{:?}", r.warnings);
    assert_eq!(r.embedded.len(), 1);
    assert_eq!(r.pages[0].method, PageMethod::None);
    // Without the attachment, nothing is left: the document times out.
    let (doc, _) = build(vec![TestPage::letter().with_text("Facture 5150")]);
    match read(&intake_with(&config), &save(doc)) {
        Err(IntakeError::TimedOut { stage, .. }) => assert_eq!(stage, "extracting the text layer"),
        other => panic!("{:?}", other.map(|r| r.warnings)),
    }
}

#[test]
fn pages_without_text_operators_skip_the_sandbox() {
    // An image-only page (a small logo, not worth OCR) and an attachment; the helper would fail
    // if it were run.
    let logo = image_stream(
        20,
        20,
        dictionary! { "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray" },
        vec![0; 400],
    );
    let (mut doc, catalog) =
        build(vec![TestPage::letter().with_image(logo, [40.0, 0.0, 0.0, 40.0, 10.0, 10.0])]);
    let file = doc.add_object(Stream::new(dictionary! {}, b"data".to_vec()));
    let spec = doc.add_object(dictionary! { "Type" => "Filespec", "F" => Object::string_literal("d.bin"), "EF" => dictionary! { "F" => file } });
    doc.get_dictionary_mut(catalog).unwrap().set("AF", vec![Object::Reference(spec)]);
    let mut config = config();
    config.sandbox.helper = Some(scripts().join("fail"));
    let r = read(&intake_with(&config), &save(doc)).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.pages[0].method, PageMethod::None);
    assert_eq!(r.info.image_count, 1);
}

#[test]
fn text_layout_puts_labels_and_values_on_one_line_in_child_and_in_process() {
    let bytes =
        std::fs::read(corpus("einvoices/zugferd_corpus/ZUGFeRDv1/correct/Konik/acme_invoice-42_ZUGFeRD.pdf"))
            .unwrap();
    // On (the default): one pass gives both the stream text and the layout.
    let on = SandboxConfig::default();
    assert!(on.text_layout);
    let child = Sandbox::new(&on).extract_text(&bytes, &deadline()).unwrap();
    let inproc = Sandbox::in_process(&on).extract_text(&bytes, &deadline()).unwrap();
    assert_eq!(child, inproc);
    let layout = child[0].layout.as_deref().unwrap();
    let lines: Vec<&str> = layout.lines().collect();
    // Label and amount on one line, the columns kept apart; the footer after the body.
    assert!(lines.contains(&"Rechnungsbetrag   1.589,80"), "{layout}");
    assert!(lines.contains(&"Rechnungsdatum: 31.01.2014"), "{layout}");
    let total = lines.iter().position(|l| l.starts_with("Rechnungsbetrag")).unwrap();
    let footer = lines.iter().position(|l| l.starts_with("Telefon:")).unwrap();
    assert!(total < footer);
    // The text is pdf-extract's stream order, where the footer comes first.
    let text = child[0].text.as_deref().unwrap();
    assert!(text.find("Telefon:").unwrap() < text.find("Rechnungsbetrag").unwrap());
    // Off: the same stream text, no layout.
    let off = SandboxConfig { text_layout: false, ..SandboxConfig::default() };
    let off = Sandbox::new(&off).extract_text(&bytes, &deadline()).unwrap();
    assert_eq!(off[0].text.as_deref(), Some(text));
    assert_eq!(off[0].layout, None);

    // Through intake: a text-layer page keeps the stream text and the normalised layout.
    let read_on = read(&intake_with(&Config::default()), &bytes).unwrap();
    let page = &read_on.pages[0];
    assert_eq!(page.method, PageMethod::TextLayer);
    assert_eq!(page.text, liasse::document::normalize_text(text));
    let laid = page.layout.as_deref().unwrap();
    assert_eq!(laid, liasse::document::normalize_text(layout));
    assert!(laid.lines().any(|l| l == "Rechnungsbetrag   1.589,80"));
    let mut config = Config::default();
    config.sandbox.text_layout = false;
    let read_off = read(&intake_with(&config), &bytes).unwrap();
    assert_eq!(read_off.pages[0].text, page.text);
    assert_eq!(read_off.pages[0].layout, None);
}

// -------------------------------------------------------------------------------------------------
// Text in images on pages with a text layer

#[test]
fn text_in_an_image_beside_the_text_layer_is_appended_with_its_boxes() {
    // The sample whose issuer "encapsulated their company data in the image below".
    let bytes = std::fs::read(corpus("invoice2data/tests/compare/saeco.pdf")).unwrap();
    let mut off = config();
    off.ocr.read_images_on_text_pages = false;
    let layer = read(&intake_with(&off), &bytes).unwrap();
    let r = read(intake(), &bytes).unwrap();
    let (before, after) = (&layer.pages[0], &r.pages[0]);
    assert_eq!(after.method, PageMethod::TextLayer);
    assert!(before.words.is_empty() && before.ocr.is_none());
    assert!(after.text.starts_with(&before.text));
    let added = &after.text[before.text.len()..];
    assert!(added.starts_with('\n'));
    assert!(added.contains("e-Luscious Nederland B.V."), "{added}");
    assert!(squash(added).contains("nl58rabo0198723202"), "{added}");
    let layout = after.layout.as_deref().unwrap();
    assert!(layout.starts_with(before.layout.as_deref().unwrap()));
    assert!(layout.ends_with(added.trim_start()));
    // The words are those of the added text, boxed on a 300 dpi image of the page, in its lower
    // part where the footer is drawn.
    let info = after.ocr.as_ref().unwrap();
    assert_eq!(info.dpi, 300);
    assert!(info.image_width > 2400 && info.image_height > 3400, "{info:?}");
    assert!(after.words.len() >= 20);
    for w in &after.words {
        assert!(w.span.start >= before.text.len());
        assert_eq!(&after.text[w.span.start..w.span.end], w.text);
        assert!(w.bbox.x + w.bbox.w <= info.image_width && w.bbox.y + w.bbox.h <= info.image_height);
        assert!(w.bbox.y > info.image_height / 2, "{w:?}");
    }
    assert!(!has_warning(&r.warnings, "ocr_timed_out"));
}

#[test]
fn an_image_repeating_the_text_layer_adds_nothing() {
    // The top of the sample scan as a letterhead band over a text page.
    let band = image::imageops::crop_imm(&sammy_gray(), 0, 0, 1700, 500).to_image();
    let page = |text: &str| {
        TestPage::letter()
            .with_text(text)
            .with_image(jpeg_image(&band, 90), [612.0, 0.0, 0.0, 180.0, 0.0, 612.0])
    };
    let (doc, _) = build(vec![page("Rechnung 1 vom 23. November 2026")]);
    let r = read(intake(), &save(doc)).unwrap();
    let p = &r.pages[0];
    assert_eq!(p.method, PageMethod::TextLayer);
    let cut = p.text.find("2026").unwrap() + 4;
    let added = p.text[cut..].trim().to_string();
    assert!(added.split_whitespace().count() >= 3, "{}", p.text);
    assert!(!p.words.is_empty());
    // The same band over a text layer that already says what it reads (a scan under its own
    // text): nothing is appended.
    let (doc, _) = build(vec![page(&added)]);
    let r = read(intake(), &save(doc)).unwrap();
    let p = &r.pages[0];
    assert!(p.words.is_empty() && p.ocr.is_none(), "{}", p.text);
    assert_eq!(squash(&p.text), squash(&added));
}
