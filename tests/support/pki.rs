//! Certificates made at test time: a private CA whose PEM a runtime trusts with
//! `--ca-file`, and server certificates it signs.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate and its private key, as a TLS server takes them.
pub type Identity = (CertificateDer<'static>, PrivateKeyDer<'static>);

/// The names every loopback server certificate is for.
pub const LOOPBACK: [&str; 2] = ["127.0.0.1", "localhost"];

/// A private CA; its PEM is written to `ca_file`.
pub struct TestCa {
    /// Where the CA's certificate is, in PEM.
    pub ca_file: PathBuf,
    cert: Certificate,
    key: KeyPair,
}

impl TestCa {
    /// A new CA named `common_name`, its PEM written to `dir/ca.pem`.
    pub fn new(dir: &Path, common_name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, cert.pem()).unwrap();
        TestCa { ca_file, cert, key }
    }

    /// A server certificate for `names`, signed by this CA.
    pub fn sign(&self, names: &[&str]) -> Identity {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.cert, &self.key)
            .unwrap();
        (cert.der().clone(), key_der(&key))
    }
}

/// A self-signed certificate for `names`, which no CA vouches for.
pub fn self_signed(names: &[&str]) -> Identity {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let own = rcgen::generate_simple_self_signed(names).unwrap();
    (own.cert.der().clone(), key_der(&own.key_pair))
}

fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}
