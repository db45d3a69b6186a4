//! E-mail intake: each document attachment becomes a document with the message as provenance;
//! inline images and signatures are not documents; names are untrusted.

use crate::common::{corpus, process_bytes};
use liasse::document::{Format, Provenance};
use liasse::error::FailureKind;
use liasse::pipeline::Status;

const CII: &str = "einvoices/_ground_truth/zugferd_corpus/xml/ZUGFeRDv2__correct__FNFE-factur-x-examples__Facture_FR_BASICWL.pdf__factur-x.xml";
const CII_2: &str = "einvoices/_ground_truth/zugferd_corpus/xml/ZUGFeRDv1__correct__Konik__acme_invoice-42_ZUGFeRD.pdf__ZUGFeRD-invoice.xml";

struct Part<'a> {
    headers: &'a str,
    body: &'a [u8],
}

/// Base64 in lines of 76 characters, as mail clients write it.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    let one_line = base64::engine::general_purpose::STANDARD.encode(bytes);
    one_line.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\r\n")
}

fn message(subject: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut m = format!(
        "From: =?UTF-8?Q?Fournisseur_R=C3=A9seau?= <compta@fournisseur.example>\r\n\
         To: factures@client.example\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 23 Nov 2026 10:15:00 +0100\r\n\
         Message-ID: <abc123@fournisseur.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n\
         --XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, veuillez trouver notre facture.\r\n"
    )
    .into_bytes();
    for p in parts {
        m.extend_from_slice(b"--XYZ\r\n");
        m.extend_from_slice(p.headers.as_bytes());
        m.extend_from_slice(b"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        m.extend_from_slice(b64(p.body).as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--XYZ--\r\n");
    m
}

#[test]
fn each_attachment_is_a_document_with_the_message_as_provenance() {
    let xml = std::fs::read(corpus(CII)).unwrap();
    let xml2 = std::fs::read(corpus(CII_2)).unwrap();
    let eml = message(
        "=?UTF-8?Q?Facture_n=C2=B0_F-2026-001?=",
        &[
            Part {
                headers: "Content-Type: application/xml; name=\"../../etc/factur-x.xml\"\r\nContent-Disposition: attachment; filename=\"../../etc/factur-x.xml\"",
                body: &xml,
            },
            // Same name, other content: two documents.
            Part {
                headers: "Content-Type: application/xml\r\nContent-Disposition: attachment; filename=\"factur-x.xml\"",
                body: &xml2,
            },
            // Same content again: one document.
            Part {
                headers: "Content-Type: application/xml\r\nContent-Disposition: attachment; filename=\"copie.xml\"",
                body: &xml,
            },
            // No name at all.
            Part {
                headers: "Content-Type: application/octet-stream\r\nContent-Disposition: attachment",
                body: b"PK\x03\x04 not a document",
            },
        ],
    );
    let out = process_bytes(&eml, "mail.eml");
    assert_eq!(out.len(), 3, "{out:#?}");

    let first = &out[0];
    assert_eq!(first.status, Status::Processed, "{:?}", first.error);
    assert_eq!(first.source.name, "factur-x.xml");
    let doc = first.document.as_ref().unwrap();
    assert_eq!(doc.format, Format::CiiXml);
    assert!(doc.einvoice.is_some());
    let Provenance::Email(p) = &first.source.provenance else { panic!("not from an e-mail") };
    assert_eq!(p.subject.as_deref(), Some("Facture n° F-2026-001"));
    assert_eq!(p.from.as_deref(), Some("Fournisseur Réseau <compta@fournisseur.example>"));
    assert_eq!(p.date.as_deref(), Some("2026-11-23T10:15:00+01:00"));
    assert_eq!(p.message_id.as_deref(), Some("abc123@fournisseur.example"));
    assert_eq!(p.message_hash, liasse::document::ContentHash::of(&eml));
    assert_eq!(p.attachment_index, 0);

    assert_eq!(out[1].status, Status::Processed);
    assert_eq!(out[1].source.name, "factur-x.xml");
    assert_ne!(out[0].content_hash, out[1].content_hash);

    // The nameless ZIP: a visible, typed failure with a generated name.
    assert_eq!(out[2].status, Status::Failed);
    assert_eq!(out[2].error.as_ref().unwrap().kind, FailureKind::Unsupported);
    assert_eq!(out[2].source.name, "attachment-4.bin");
}

#[test]
fn inline_images_and_signatures_are_not_documents() {
    let xml = std::fs::read(corpus(CII)).unwrap();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x00\0\0\0:~\x9bU\0\0\0\nIDATx\x9cc`\0\0\0\x02\0\x01H\xaf\xa4q\0\0\0\0IEND\xaeB`\x82";
    let eml = message(
        "logo",
        &[
            Part {
                headers: "Content-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline",
                body: png,
            },
            Part {
                headers: "Content-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Disposition: attachment; filename=smime.p7s",
                body: b"0\x82\x01",
            },
            Part {
                headers: "Content-Type: text/xml\r\nContent-Disposition: attachment; filename=facture.xml",
                body: &xml,
            },
        ],
    );
    let out = process_bytes(&eml, "mail.eml");
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].source.name, "facture.xml");
    assert_eq!(out[0].status, Status::Processed, "{:?}", out[0].error);
}

#[test]
fn a_message_without_attachment_is_a_visible_failure() {
    let eml = message("rien", &[]);
    let out = process_bytes(&eml, "vide.eml");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, Status::Failed);
    assert_eq!(out[0].error.as_ref().unwrap().kind, FailureKind::Empty);
    assert_eq!(out[0].content_hash, liasse::document::ContentHash::of(&eml));
}

#[test]
fn forwarded_messages_are_opened_with_their_own_headers() {
    let xml = std::fs::read(corpus(CII)).unwrap();
    let inner = message(
        "Facture originale",
        &[Part {
            headers: "Content-Type: application/xml\r\nContent-Disposition: attachment; filename=f.xml",
            body: &xml,
        }],
    );
    let outer = message(
        "Fwd: Facture",
        &[Part {
            headers: "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=orig.eml",
            body: &inner,
        }],
    );
    let out = process_bytes(&outer, "fwd.eml");
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].status, Status::Processed, "{:?}", out[0].error);
    let Provenance::Email(p) = &out[0].source.provenance else { panic!() };
    assert_eq!(p.subject.as_deref(), Some("Facture originale"));
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let xml = std::fs::read(corpus(CII)).unwrap();
    let mut m = message(
        "0",
        &[Part {
            headers: "Content-Type: application/xml\r\nContent-Disposition: attachment; filename=f.xml",
            body: &xml,
        }],
    );
    for i in 1..8 {
        m = message(
            &i.to_string(),
            &[Part {
                headers: "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=m.eml",
                body: &m,
            }],
        );
    }
    let out = process_bytes(&m, "deep.eml");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].error.as_ref().unwrap().kind, FailureKind::TooLarge, "{out:#?}");
}

/// A crasher found by the fuzzer (fuzz/regressions/): an e-mail whose MIME structure makes
/// mail-parser panic is a corrupt document, and the batch goes on.
#[test]
fn fuzz_regression_inconsistent_mime_is_corrupt_not_a_panic() {
    let path = crate::common::root().join("fuzz/regressions/mail_parser_invalid_part_id.eml");
    let outcomes = crate::common::process_file(&path);
    assert!(!outcomes.is_empty());
    let failed: Vec<_> = outcomes.iter().filter(|o| o.is_failed()).collect();
    assert!(
        failed.iter().all(|o| o.error.as_ref().unwrap().kind == liasse::error::FailureKind::Corrupt),
        "{failed:?}"
    );
}
