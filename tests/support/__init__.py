"""What the tests share: fakes that really implement the protocols, PDFs made by PyMuPDF,
the app in-process with an HTTP client, real servers on loopback, and the services CI must
really have."""
