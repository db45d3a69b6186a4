//! Helpers shared by the integration tests and the service benchmark (`benches/service.rs`
//! includes this file): test databases, unique names, free ports, generated text PDFs.
#![allow(dead_code)]

use sqlx::postgres::{PgPool, PgPoolOptions};

/// The server every test database lives on (`SERVICE_TEST_PG`, default the local trust server).
pub fn pg_base() -> String {
    std::env::var("SERVICE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn amqp_url() -> String {
    std::env::var("SERVICE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.write_u32(std::process::id());
    format!("{prefix}_{:016x}", h.finish())
}

/// A database created for one test and dropped at the end.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = unique("liasse_test");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}/postgres", pg_base()))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        TestDb { url: format!("{}/{name}", pg_base()), name }
    }

    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(8).connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort, on a thread of its own (Drop may run inside a runtime).
        let base = pg_base();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) =
                    PgPoolOptions::new().max_connections(1).connect(&format!("{base}/postgres")).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await;
                }
            })
        })
        .join();
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A one-page A4 text PDF, one line of Helvetica 10 pt per item, top to bottom.
pub fn text_pdf<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let mut content = String::new();
    for (k, line) in lines.into_iter().enumerate() {
        let y = 760 - 14 * k as i64;
        content.push_str(&format!("BT /F1 10 Tf 60 {y} Td ({}) Tj ET\n", line.as_ref()));
    }
    let content_id = doc.add_object(Stream::new(lopdf::Dictionary::new(), content.into_bytes()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![Object::Reference(page)], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saves");
    out
}
