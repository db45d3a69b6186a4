mod einvoice;
