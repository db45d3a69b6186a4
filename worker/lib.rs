//! Liasse: a self-hosted document-processing worker for invoices and contracts.
//! See ARCHITECTURE.md for the map.

pub mod classify;
pub mod config;
pub mod contract;
pub mod document;
pub mod einvoice;
pub mod error;
pub mod evidence;
pub mod features;
pub mod intake;
pub mod invoice;
pub mod model;
pub mod ocr;
pub mod pipeline;
pub mod queue;
pub mod review;
pub mod service;
pub mod store;
pub mod web;
