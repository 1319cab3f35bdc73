//! HTTP plumbing shared by every provider: one reqwest client with the timeout and User-Agent,
//! the rule for base URLs (https, or plain http on loopback for tests and local fakes), a secret
//! that never prints, and [`Failure`], the classification every retry decision is made from.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

/// How the shared client is built.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request timeout (connect, send, wait, read). 30 s by default, as the contracts ask.
    pub timeout: Duration,
    /// Sent on every request; services such as Nominatim require an identifying one.
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            user_agent: concat!("tacho-relay/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// One reqwest client for all connectors of a relay (connection pooling, rustls). Cheap to clone.
/// Redirects are never followed: a service answering with one is misconfigured, and following
/// it could carry credentials to another host.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
}

impl Http {
    /// Builds the client.
    pub fn new(config: HttpConfig) -> Result<Self, Failure> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Failure::Protocol {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self { client, config })
    }

    /// The underlying client, for the provider modules.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }
}

/// A credential. Its `Debug` and `Display` print a placeholder, so it cannot reach a log by way
/// of a derived `Debug` of a struct that holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for building a request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    NotUrl(String),
    /// Plain http to a host that is not loopback (credentials would travel in clear).
    #[error("must be https:// (plain http only on a loopback address)")]
    NotHttps,
    /// A query, fragment or user name, which the connector would not keep.
    #[error("must have no query, fragment or user name")]
    Extra,
}

/// Whether a URL's host is a loopback name or address (plain HTTP is allowed only there).
pub fn is_loopback_host(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Parses the origin a person gives (`https://kimai.example.com`, `http://127.0.0.1:8080/sub`)
/// into a base with a trailing slash, so the provider's API path can be joined onto it.
pub fn parse_base_url(raw: &str) -> Result<Url, BaseUrlError> {
    let mut url = Url::parse(raw.trim()).map_err(|e| BaseUrlError::NotUrl(e.to_string()))?;
    let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(&url));
    if !secure {
        return Err(BaseUrlError::NotHttps);
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(BaseUrlError::Extra);
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// What went wrong talking to a service, classified for the retry policy of
/// `contracts/timesheets.md` §1.5. The messages carry the service's own words where it gave
/// some, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The request may have been applied: timeout after sending, connection dropped before the
    /// answer, or a 5xx. Reconcile (read back and match) before sending the write again.
    #[error("outcome unknown: {message}")]
    Uncertain {
        /// What happened.
        message: String,
    },
    /// The request certainly did not reach the service (connection refused, DNS): safe to retry.
    #[error("service unreachable: {message}")]
    Unreachable {
        /// What happened.
        message: String,
    },
    /// 429: slow down; wait at least `retry_after` (from `Retry-After`) when given.
    #[error("rate limited")]
    RateLimited {
        /// The service's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Toggl's 402: the hourly quota is spent; the connection pauses until it resets.
    #[error("quota exhausted, resets in {resets_in:?}")]
    Quota {
        /// From `X-Toggl-Quota-Resets-In`.
        resets_in: Duration,
    },
    /// 401, or 403 on authentication: disable the connection and tell the person.
    #[error("authentication refused ({status}): {message}")]
    Auth {
        /// HTTP status.
        status: u16,
        /// The service's message.
        message: String,
    },
    /// Another 4xx (validation, a 403 on a Zammad edit without admin rights, a 409): a conflict
    /// for the person to resolve, never retried as is.
    #[error("refused ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The service's message, parsed from its error shape.
        message: String,
    },
    /// 404 on a record: it is gone (a delete already happened, or someone removed it remotely).
    #[error("not found")]
    NotFound,
    /// The service answered something that breaks its contract (unparseable body, missing field).
    #[error("unexpected answer: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
}

impl Failure {
    /// Whether the write this failure answered may have been applied.
    pub fn is_uncertain(&self) -> bool {
        matches!(self, Self::Uncertain { .. })
    }

    /// Classifies a transport error from reqwest. A timeout or a dropped connection after the
    /// request was sent is uncertain; a failure to connect is not.
    pub fn from_transport(err: &reqwest::Error) -> Self {
        let message = transport_message(err);
        if err.is_connect() {
            Self::Unreachable { message }
        } else if err.is_builder() || err.is_redirect() {
            Self::Protocol { message }
        } else {
            Self::Uncertain { message }
        }
    }
}

/// A transport error without its URL (which could hold an id that is nobody's business in a log).
fn transport_message(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "answer cut short"
    } else if err.is_request() {
        "connection lost"
    } else {
        "transport error"
    };
    kind.to_owned()
}

/// `Retry-After` in seconds (the HTTP-date form is rare on APIs and read as absent).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_need_https_except_on_loopback() {
        assert_eq!(
            parse_base_url("http://kimai.example.com"),
            Err(BaseUrlError::NotHttps)
        );
        assert!(parse_base_url("http://127.0.0.1:9000").is_ok());
        assert!(parse_base_url("http://[::1]:9000").is_ok());
        assert!(parse_base_url("http://localhost").is_ok());
        assert_eq!(
            parse_base_url("https://x.example/?a=b"),
            Err(BaseUrlError::Extra)
        );
        assert!(matches!(
            parse_base_url("kimai.example.com"),
            Err(BaseUrlError::NotUrl(_))
        ));
        let url = parse_base_url("https://example.com/kimai").expect("valid");
        assert_eq!(url.as_str(), "https://example.com/kimai/");
        assert_eq!(
            url.join("api/timesheets").expect("join").as_str(),
            "https://example.com/kimai/api/timesheets"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("tok-123");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        assert_eq!(s.expose(), "tok-123");
    }
}
