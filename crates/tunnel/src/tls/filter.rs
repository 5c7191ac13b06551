//! Certificate selection filters (`--client-cert-issuer` / `--client-cert-subject`,
//! docs/protocol.md §4.1) and distinguished-name matching. Platform-neutral: the Linux identity
//! directory uses it today, macOS Keychain and Windows `MY` store code can share it later.

use std::fmt;
use std::str::FromStr;

use x509_parser::x509::X509Name;

/// Why a filter string was refused; the messages are pomerium-cli's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// No `=` in the filter.
    #[error("expected filter format attr=value, but was {0:?}")]
    Format(String),
    /// An attribute name that is not in the supported list.
    #[error("unsupported attribute {0:?}")]
    UnsupportedAttribute(String),
}

/// A distinguished-name attribute a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameAttr {
    /// `commonName` / `CN` (2.5.4.3).
    CommonName,
    /// `countryName` / `C` (2.5.4.6).
    Country,
    /// `localityName` / `L` (2.5.4.7).
    Locality,
    /// `organizationName` / `O` (2.5.4.10).
    Organization,
    /// `organizationalUnitName` / `OU` (2.5.4.11).
    OrganizationalUnit,
    /// `postalCode` (2.5.4.17).
    PostalCode,
    /// `serialNumber` (2.5.4.5), the DN attribute, not the certificate serial.
    SerialNumber,
    /// `stateOrProvinceName` / `ST` (2.5.4.8).
    StateOrProvince,
    /// `streetAddress` / `STREET` (2.5.4.9).
    StreetAddress,
}

impl NameAttr {
    /// The attribute's object identifier, dotted.
    #[must_use]
    pub fn oid(self) -> &'static str {
        match self {
            Self::CommonName => "2.5.4.3",
            Self::Country => "2.5.4.6",
            Self::Locality => "2.5.4.7",
            Self::Organization => "2.5.4.10",
            Self::OrganizationalUnit => "2.5.4.11",
            Self::PostalCode => "2.5.4.17",
            Self::SerialNumber => "2.5.4.5",
            Self::StateOrProvince => "2.5.4.8",
            Self::StreetAddress => "2.5.4.9",
        }
    }
}

impl FromStr for NameAttr {
    type Err = FilterError;

    /// Case-insensitive long name or short alias.
    fn from_str(s: &str) -> Result<Self, FilterError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "commonname" | "cn" => Self::CommonName,
            "countryname" | "c" => Self::Country,
            "localityname" | "l" => Self::Locality,
            "organizationname" | "o" => Self::Organization,
            "organizationalunitname" | "ou" => Self::OrganizationalUnit,
            "postalcode" => Self::PostalCode,
            "serialnumber" => Self::SerialNumber,
            "stateorprovincename" | "st" => Self::StateOrProvince,
            "streetaddress" | "street" => Self::StreetAddress,
            _ => return Err(FilterError::UnsupportedAttribute(s.to_owned())),
        })
    }
}

/// One `attr=value` test on a distinguished name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFilter {
    /// The attribute tested.
    pub attr: NameAttr,
    /// The value it must have, compared exactly (case-sensitive).
    pub value: String,
}

impl NameFilter {
    /// Parses `attr=value` (split on the first `=`; the attribute is case-insensitive).
    ///
    /// # Errors
    /// [`FilterError::Format`] without `=`, [`FilterError::UnsupportedAttribute`] for an
    /// attribute outside the list in docs/protocol.md §4.1.
    pub fn parse(filter: &str) -> Result<Self, FilterError> {
        let (attr, value) = filter.split_once('=').ok_or_else(|| FilterError::Format(filter.to_owned()))?;
        Ok(Self { attr: attr.parse()?, value: value.to_owned() })
    }

    /// `true` when ANY value of the attribute in `name` equals [`NameFilter::value`].
    #[must_use]
    pub fn matches(&self, name: &X509Name<'_>) -> bool {
        name.iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == self.attr.oid())
            .any(|a| a.as_str().is_ok_and(|v| v == self.value))
    }

    /// `true` when the DER-encoded `Name` parses and [`NameFilter::matches`] it.
    #[must_use]
    pub fn matches_der(&self, name_der: &[u8]) -> bool {
        use x509_parser::prelude::FromDer as _;
        X509Name::from_der(name_der).is_ok_and(|(_, name)| self.matches(&name))
    }
}

impl FromStr for NameFilter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, FilterError> {
        Self::parse(s)
    }
}

impl fmt::Display for NameFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}={}", self.attr, self.value)
    }
}

/// `true` when a server's acceptable-CA hint (DER `Name`) is the same name as `issuer` (DER).
/// No hints at all means the server accepts any issuer.
#[must_use]
pub fn issuer_acceptable(issuer_der: &[u8], hints: &[&[u8]]) -> bool {
    hints.is_empty() || hints.contains(&issuer_der)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER `Name` with one RDN per `(2.5.4.<arc>, value)`, UTF8String values (all lengths < 128).
    fn name(attrs: &[(u8, &str)]) -> Vec<u8> {
        let tlv = |tag: u8, body: &[u8]| [&[tag, u8::try_from(body.len()).unwrap()][..], body].concat();
        let rdns: Vec<u8> = attrs
            .iter()
            .flat_map(|(arc, v)| {
                let atv = tlv(0x30, &[tlv(0x06, &[0x55, 0x04, *arc]), tlv(0x0c, v.as_bytes())].concat());
                tlv(0x31, &atv)
            })
            .collect();
        tlv(0x30, &rdns)
    }

    #[test]
    fn parse_accepts_aliases_case_insensitively() {
        let f = NameFilter::parse("cn=Corp CA").unwrap();
        assert_eq!(f, NameFilter { attr: NameAttr::CommonName, value: "Corp CA".into() });
        assert_eq!(NameFilter::parse("CommonName=x").unwrap().attr, NameAttr::CommonName);
        assert_eq!(NameFilter::parse("OU=a=b").unwrap().value, "a=b", "split on the first = only");
        for (s, attr) in [
            ("C", NameAttr::Country),
            ("countryName", NameAttr::Country),
            ("l", NameAttr::Locality),
            ("O", NameAttr::Organization),
            ("organizationalUnitName", NameAttr::OrganizationalUnit),
            ("POSTALCODE", NameAttr::PostalCode),
            ("serialNumber", NameAttr::SerialNumber),
            ("ST", NameAttr::StateOrProvince),
            ("stateOrProvinceName", NameAttr::StateOrProvince),
            ("street", NameAttr::StreetAddress),
            ("streetAddress", NameAttr::StreetAddress),
        ] {
            assert_eq!(NameFilter::parse(&format!("{s}=v")).unwrap().attr, attr, "{s}");
        }
    }

    #[test]
    fn parse_errors_use_pomerium_cli_wording() {
        let e = NameFilter::parse("CN").unwrap_err();
        assert_eq!(e.to_string(), r#"expected filter format attr=value, but was "CN""#);
        let e = NameFilter::parse("x=1").unwrap_err();
        assert_eq!(e.to_string(), r#"unsupported attribute "x""#);
        assert!(NameFilter::parse("emailAddress=a@b").is_err(), "not in the supported list");
    }

    #[test]
    fn matching_is_exact_against_any_value() {
        let dn = name(&[(3, "alice"), (10, "Corp"), (11, "Eng"), (11, "Ops"), (6, "FR")]);
        let yes = |s: &str| NameFilter::parse(s).unwrap().matches_der(&dn);
        assert!(yes("CN=alice") && yes("O=Corp") && yes("C=FR"));
        assert!(yes("OU=Eng") && yes("OU=Ops"), "either value of a multi-valued attribute matches");
        assert!(!yes("OU=eng"), "values are case-sensitive");
        assert!(!yes("CN=alic") && !yes("L=Paris"), "no prefix match, no absent attribute match");
        assert!(!NameFilter::parse("CN=a").unwrap().matches_der(b"\x01\x02"), "junk DER never matches");
    }

    #[test]
    fn issuer_hints() {
        let (a, b) = (name(&[(3, "A")]), name(&[(3, "B")]));
        assert!(issuer_acceptable(&a, &[]), "no hints: any issuer");
        assert!(issuer_acceptable(&a, &[&b, &a]));
        assert!(!issuer_acceptable(&a, &[&b]));
    }
}
