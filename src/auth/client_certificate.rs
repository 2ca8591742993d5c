//! The client-certificate login of services with
//! `"auth": {"clientCertificate": {"subjects": [...]}}`.
//!
//! The listener has already verified the certificate chain against `--tls-client-ca`
//! (`server::tls`); what is left is whether its subject is one the service names. No
//! certificate is 401 (the caller is unknown); a verified certificate with another
//! subject is 403 (the caller is known and not admitted), as for a Basic user without
//! the privilege. Messages never list the admitted subjects.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::http::request::Connection;

/// The subject that admits the request's certificate to the service named `service`,
/// which requires one of `subjects`; it is the caller processes see (`user`).
///
/// # Errors
///
/// 401 when the request came without a verified client certificate (plain HTTP, a
/// server without `--tls-client-ca`, or none presented); 403 when its subject is not
/// one of `subjects`.
pub(crate) fn admit(
    service: &str,
    subjects: &[String],
    connection: Option<&Connection>,
) -> Result<Arc<str>> {
    let Some(cert) = connection.and_then(|c| c.client_certificate.as_deref()) else {
        return Err(Error::Unauthorized(
            format!(
                "service '{service}' requires a client certificate: connect over HTTPS with a \
                 certificate signed by the CA of the server's --tls-client-ca"
            )
            .into(),
        ));
    };
    match cert.first_match(subjects) {
        Some(subject) => Ok(Arc::from(subject)),
        None => {
            let who = cert.display_name();
            tracing::debug!(%service, certificate = %who, "Client certificate refused.");
            Err(Error::Forbidden(
                format!("the client certificate {who} may not call service '{service}'").into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::ClientCertificate;

    fn connection(cert: Option<ClientCertificate>) -> Connection {
        let addr = "127.0.0.1:1".parse().unwrap();
        Connection {
            peer: addr,
            local: addr,
            tls: true,
            client_certificate: cert.map(Arc::new),
        }
    }

    #[test]
    fn no_certificate_is_401_another_subject_403_and_a_named_one_the_caller() {
        let subjects = vec!["CN=flow-tenant-1".to_owned()];
        let status = |r: Result<Arc<str>>| r.unwrap_err().status().as_u16();
        assert_eq!(status(admit("S", &subjects, None)), 401);
        assert_eq!(status(admit("S", &subjects, Some(&connection(None)))), 401);
        let intruder = ClientCertificate {
            common_names: vec!["intruder".into()],
            dns_names: vec![],
        };
        let err = admit("S", &subjects, Some(&connection(Some(intruder)))).unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        assert!(err.to_string().contains("CN=intruder"), "{err}");
        assert!(!err.to_string().contains("flow-tenant-1"), "{err}");
        let tenant = ClientCertificate {
            common_names: vec!["flow-tenant-1".into()],
            dns_names: vec![],
        };
        let who = admit("S", &subjects, Some(&connection(Some(tenant)))).unwrap();
        assert_eq!(&*who, "CN=flow-tenant-1");
    }
}
