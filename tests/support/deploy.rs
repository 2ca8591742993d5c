//! Deployments as a client sends them: a zip of named files, a multipart body of one file
//! part, and the POST of it to a repository's deployments with admin credentials.

use std::io::Write as _;

use http::Method;

use super::{basic, request, Answer, TestServer};

/// The boundary of the multipart bodies [`file_part`] builds.
pub const BOUNDARY: &str = "fss-test-deploy-boundary-7f3a";

/// A `.zip` of `entries` (path inside the archive, bytes), files readable by all.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    for (name, bytes) in entries {
        w.start_file(*name, options).expect("a zip entry starts");
        w.write_all(bytes).expect("a zip entry is written");
    }
    w.finish().expect("the zip is finished").into_inner()
}

/// A `multipart/form-data` body of one file part named `field`, sent as `filename`, with
/// [`BOUNDARY`].
pub fn file_part(field: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    write!(
        body,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
         filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .expect("writing to a Vec cannot fail");
    body.extend_from_slice(bytes);
    write!(body, "\r\n--{BOUNDARY}--\r\n").expect("writing to a Vec cannot fail");
    body
}

/// POSTs `bytes` as the file part `field` (sent as `filename`) to `{repo}/deployments`
/// with the Basic credentials `(user, password)`.
pub async fn upload(
    s: &TestServer,
    repo: &str,
    (user, password): (&str, &str),
    field: &str,
    filename: &str,
    bytes: &[u8],
) -> Answer {
    let auth = basic(user, password);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    request(
        Method::POST,
        &s.url(&format!("{repo}/deployments")),
        &[("authorization", &auth), ("content-type", &ct)],
        file_part(field, filename, bytes),
    )
    .await
}
