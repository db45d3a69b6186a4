//! The one integration-test binary: every module runs against the real parts (libtesseract,
//! the `liasse` executable as text sandbox, and later PostgreSQL, RabbitMQ and ONNX Runtime).

mod api;
mod common;
mod einvoice;
mod email;
mod fixtures;
mod ocr;
mod pdf;
mod service;
