//! The one integration-test binary: every module runs against the real parts (libtesseract,
//! the `liasse` executable as text sandbox, and later PostgreSQL, RabbitMQ and ONNX Runtime).

mod api;
mod classify;
mod common;
mod contract;
mod desk;
mod einvoice;
mod email;
mod fixtures;
mod history;
mod invoice;
mod ocr;
mod pdf;
mod rows;
mod service;
mod support;
