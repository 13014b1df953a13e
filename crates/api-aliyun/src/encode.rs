//! Response bodies: one serde struct per response renders both shapes.
//!
//! JSON is the struct as is. XML is the same struct under a root element
//! named `<{Action}Response>` (errors: `<Error>`), after the declaration
//! `<?xml version='1.0' encoding='UTF-8'?>` as the vendor writes it. A RAM
//! list is a wrapper holding a vector (`Users.User[]`), which serde_json
//! renders as `{"Users":{"User":[…]}}` and quick-xml as
//! `<Users><User>…</User><User>…</User></Users>`: both vendor shapes from
//! one struct. An empty list renders as `{"User":[]}` / `<Users/>`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trustdesk_service::RequestId;

use crate::action::Action;
use crate::error::RpcError;

pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";
const XML_DECLARATION: &str = "<?xml version='1.0' encoding='UTF-8'?>";

/// Response format chosen by the `Format` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `JSON` and `XML` in any case. Absent means JSON (the newer vendor
    /// docs' default). `None` also means JSON: the old Python SDK's
    /// `do_action` sends the literal `Format=None` and expects JSON back.
    /// Anything else is `InvalidParameter.Format`.
    pub fn from_param(value: Option<&str>) -> Result<Self, RpcError> {
        match value {
            None => Ok(Format::Json),
            Some(v) if v.eq_ignore_ascii_case("json") || v == "None" => Ok(Format::Json),
            Some(v) if v.eq_ignore_ascii_case("xml") => Ok(Format::Xml),
            Some(_) => Err(RpcError::invalid_format()),
        }
    }
}

/// XML with the vendor's declaration, root element from the struct's serde
/// name.
pub fn to_xml<T: Serialize>(value: &T) -> Result<String, quick_xml::SeError> {
    let mut out = String::from(XML_DECLARATION);
    value.serialize(quick_xml::se::Serializer::new(&mut out))?;
    Ok(out)
}

/// XML under an explicit root element name.
pub fn to_xml_with_root<T: Serialize>(root: &str, value: &T) -> Result<String, quick_xml::SeError> {
    let mut out = String::from(XML_DECLARATION);
    value.serialize(quick_xml::se::Serializer::with_root(&mut out, Some(root))?)?;
    Ok(out)
}

/// Renders a successful response for `action`.
pub fn success<T: Serialize>(
    request_id: &RequestId,
    format: Format,
    action: Action,
    body: &T,
) -> Result<Response, RpcError> {
    let (content_type, bytes) = match format {
        Format::Json => (
            JSON_CONTENT_TYPE,
            serde_json::to_vec(body).map_err(|e| encode_failed(&e))?,
        ),
        Format::Xml => {
            let root = format!("{}Response", action.name());
            (
                XML_CONTENT_TYPE,
                to_xml_with_root(&root, body)
                    .map_err(|e| encode_failed(&e))?
                    .into_bytes(),
            )
        }
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert("x-acs-request-id", v);
    }
    Ok(response)
}

/// What every handler needs to render its answer.
#[derive(Clone, Copy)]
pub struct Reply<'a> {
    pub request_id: &'a RequestId,
    pub format: Format,
    pub action: Action,
}

impl Reply<'_> {
    pub fn send<T: Serialize>(self, body: &T) -> Result<Response, RpcError> {
        success(self.request_id, self.format, self.action, body)
    }

    /// A body holding only `RequestId`.
    pub fn empty(self) -> Result<Response, RpcError> {
        self.send(&Empty {
            request_id: self.request_id.as_str(),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Empty<'a> {
    request_id: &'a str,
}

fn encode_failed(e: &dyn std::fmt::Display) -> RpcError {
    tracing::error!(error = %e, "encoding a response failed");
    RpcError::internal()
}

/// The vendor's date format, `YYYY-MM-DDThh:mm:ssZ` in UTC: the same
/// format signatures carry, so one formatter serves both.
pub use trustdesk_auth::format_timestamp as vendor_date;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parameter() {
        assert_eq!(Format::from_param(None).unwrap(), Format::Json);
        assert_eq!(Format::from_param(Some("json")).unwrap(), Format::Json);
        assert_eq!(Format::from_param(Some("None")).unwrap(), Format::Json);
        assert_eq!(Format::from_param(Some("xml")).unwrap(), Format::Xml);
        assert_eq!(Format::from_param(Some("XML")).unwrap(), Format::Xml);
        assert_eq!(
            Format::from_param(Some("yaml")).unwrap_err().code,
            "InvalidParameter.Format"
        );
    }
}
