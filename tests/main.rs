mod ocr;
