//! What the four timesheet clients share on the wire: sending a request and reading its whole
//! answer (so a body cut short is a transport failure, not a parse error), the status
//! classification of `contracts/timesheets.md` §1.5 and small validation helpers. Each service
//! adds its own error-shape parser and its exceptions (Toggl's 402, Zammad's 403 on edits).

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Url};
use serde::de::DeserializeOwned;

use super::{Entry, Service, Target};
use crate::http::{Failure, retry_after};

/// A whole answer: status, headers and body bytes.
#[derive(Debug)]
pub(crate) struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, read completely.
    pub body: Vec<u8>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON of type `T`; anything else breaks the service's contract.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| Failure::Protocol {
            message: format!("{what}: unreadable answer ({e})"),
        })
    }

    /// A header as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` and reads the whole answer. Transport failures are classified by
/// [`Failure::from_transport`]; a body that breaks off is uncertain like a lost answer.
pub(crate) async fn send(request: RequestBuilder) -> Result<Answer, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::from_transport(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::from_transport(&e))?
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The classification of a non-2xx answer, with `message` the service's own words (parsed by
/// the caller from its error shape) or a short fallback. 404 is [`Failure::NotFound`]: callers
/// on a record turn it into success (delete) or `None` (get); elsewhere they re-word it.
pub(crate) fn classify(answer: &Answer, message: Option<String>) -> Failure {
    let status = answer.status;
    let message = message.unwrap_or_else(|| fallback_message(answer));
    match status {
        401 | 403 => Failure::Auth { status, message },
        404 => Failure::NotFound,
        429 => Failure::RateLimited {
            retry_after: retry_after(&answer.headers),
        },
        500..=599 => Failure::Uncertain {
            message: format!("server error {status}: {message}"),
        },
        400..=499 => Failure::Refused { status, message },
        300..=399 => Failure::Protocol {
            message: format!("redirected ({status}): check the base URL"),
        },
        _ => Failure::Protocol {
            message: format!("unexpected status {status}"),
        },
    }
}

/// A short, single-line excerpt of a body that is not the service's error shape (an HTML page
/// from a proxy, say): HTML is replaced by the status reason, text is cut at 200 characters.
fn fallback_message(answer: &Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    let text = text.trim();
    let reason = reqwest::StatusCode::from_u16(answer.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    if text.is_empty() || text.starts_with('<') {
        return reason.to_owned();
    }
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}

/// A 404 on a list (not a record) means the base URL or API path is wrong, not that something
/// is gone: a refusal the person must fix, so a pull or picker never reads it as a deletion.
pub(crate) fn list_failure(service: Service) -> impl Fn(Failure) -> Failure {
    move |failure| match failure {
        Failure::NotFound => Failure::Refused {
            status: 404,
            message: format!(
                "{} answered 404 for a list: check the base URL",
                service.as_str()
            ),
        },
        other => other,
    }
}

/// Joins a relative API path onto the API base.
pub(crate) fn url(api: &Url, path: &str) -> Result<Url, Failure> {
    api.join(path).map_err(|e| Failure::Protocol {
        message: format!("cannot build the URL for {path}: {e}"),
    })
}

/// A local refusal (status 400) for a request that must not be sent: the caller's mistake, a
/// conflict for the person, never retried.
pub(crate) fn refuse(message: impl Into<String>) -> Failure {
    Failure::Refused {
        status: 400,
        message: message.into(),
    }
}

/// The entry's target, checked to be for `service`.
pub(crate) fn target_for(service: Service, target: &Target) -> Result<&Target, Failure> {
    if target.service() == service {
        Ok(target)
    } else {
        Err(refuse(format!(
            "a {} target was given to the {} connector",
            target.service().as_str(),
            service.as_str()
        )))
    }
}

/// The entry's duration in whole seconds (start and stop truncated to seconds, as every
/// service stores them); `None` while running. A stop before the start is refused.
pub(crate) fn seconds(entry: &Entry) -> Result<Option<i64>, Failure> {
    match entry.stop {
        None => Ok(None),
        Some(stop) => {
            let secs = stop.timestamp() - entry.start.timestamp();
            if secs < 0 {
                Err(refuse("the entry stops before it starts"))
            } else {
                Ok(Some(secs))
            }
        }
    }
}

/// A stopped entry's duration, or a refusal naming the service for a running one (Tempo and
/// Zammad keep no running timers; the caller sends the entry when it stops).
pub(crate) fn stopped_seconds(service: Service, entry: &Entry) -> Result<i64, Failure> {
    seconds(entry)?.ok_or_else(|| {
        refuse(format!(
            "{} keeps no running timers: send the entry when it stops",
            service.as_str()
        ))
    })
}

/// `instant` truncated to whole seconds (services store no fractions; matching compares these).
pub(crate) fn whole_seconds(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(instant.timestamp(), 0).unwrap_or(instant)
}

/// A paging link (Tempo's `metadata.next`) is followed only on the API's own origin, so the
/// credential never travels to another host named in an answer.
pub(crate) fn same_origin(api: &Url, next: &str) -> Result<Url, Failure> {
    let next = Url::parse(next).map_err(|e| Failure::Protocol {
        message: format!("unreadable paging link: {e}"),
    })?;
    if next.origin() == api.origin() {
        Ok(next)
    } else {
        Err(Failure::Protocol {
            message: "a paging link points to another host".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_classify_as_the_contract_says() {
        assert!(matches!(
            classify(&answer(401, ""), None),
            Failure::Auth { status: 401, .. }
        ));
        assert!(matches!(
            classify(&answer(403, ""), None),
            Failure::Auth { status: 403, .. }
        ));
        assert_eq!(classify(&answer(404, ""), None), Failure::NotFound);
        assert!(classify(&answer(502, "bad gateway"), None).is_uncertain());
        assert_eq!(
            classify(&answer(422, "x"), Some("field".into())),
            Failure::Refused {
                status: 422,
                message: "field".into()
            }
        );
        let mut limited = answer(429, "");
        limited
            .headers
            .insert("retry-after", "7".parse().expect("header"));
        assert_eq!(
            classify(&limited, None),
            Failure::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(&answer(302, ""), None),
            Failure::Protocol { .. }
        ));
    }

    #[test]
    fn html_bodies_become_the_reason_phrase() {
        assert_eq!(
            classify(&answer(401, "<html><body>nope</body></html>"), None),
            Failure::Auth {
                status: 401,
                message: "Unauthorized".into()
            }
        );
        let long = "x".repeat(500);
        match classify(&answer(400, &long), None) {
            Failure::Refused { message, .. } => assert_eq!(message.len(), 200),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_404_on_a_list_is_a_refusal_not_a_deletion() {
        let map = list_failure(Service::Kimai);
        assert!(matches!(
            map(Failure::NotFound),
            Failure::Refused { status: 404, .. }
        ));
        assert!(
            map(Failure::Uncertain {
                message: "x".into()
            })
            .is_uncertain()
        );
    }

    #[test]
    fn paging_links_stay_on_the_origin() {
        let api = Url::parse("http://127.0.0.1:9000/4/").expect("url");
        assert!(same_origin(&api, "http://127.0.0.1:9000/4/worklogs?offset=50").is_ok());
        assert!(same_origin(&api, "http://evil.example/4/worklogs").is_err());
        assert!(same_origin(&api, "http://127.0.0.1:9001/4/worklogs").is_err());
    }
}
