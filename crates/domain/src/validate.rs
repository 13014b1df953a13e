//! Validated values for the user record, following the RAM `CreateUser` page
//! (reference §e "Validation rules from the seed").
//!
//! Each constructor returns the [`Problem`] with the value; the API face that
//! received it adds the parameter name (`UserName`, `NewUserName`, ...) and
//! turns it into its vendor's error code. Lengths count Unicode scalar values,
//! not bytes. When a value is both too long and contains bad characters the
//! length is reported (the vendor does not document the order; this is ours).
//!
//! Choices where the reference is silent ([INF]):
//! * MobilePhone: `^[0-9]{1,4}-[0-9]{4,20}$` (country code, dash, number).
//! * Email: at most 128 characters, one `@`, a non-empty local part of
//!   printable ASCII without spaces or quotes, and a domain of dot-separated
//!   labels `[A-Za-z0-9-]` that neither starts nor ends with `-`.
//! * Comments: at most 128 characters of anything.

use std::fmt;

/// What is wrong with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Empty or longer than allowed.
    Length,
    /// Contains a character outside the allowed set.
    InvalidChars,
    /// Does not have the required shape (phone, e-mail).
    Format,
    /// Names something that does not exist or the caller cannot see.
    Unknown,
    /// A role the container's template does not offer.
    NotOffered,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Length => "length",
            Problem::InvalidChars => "invalid characters",
            Problem::Format => "format",
            Problem::Unknown => "unknown reference",
            Problem::NotOffered => "not offered here",
        })
    }
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, Problem> {
                $check(value)?;
                Ok(Self(value.to_owned()))
            }
            /// For values read back from storage, which were validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_string!(
    /// A RAM user name: 1–64 characters of `A–Z a–z 0–9 . @ _ -`. Unique per
    /// account, compared case-insensitively (ASCII) so that `Alice` and
    /// `alice` cannot both exist: sign-in names are case-insensitive on the
    /// vendor's console, and allowing both would make them ambiguous.
    UserName,
    check_user_name
);
validated_string!(
    /// A display name: 1–128 characters of `A–Z a–z 0–9 . @ -` and CJK
    /// ideographs U+4E00–U+9FA5.
    DisplayName,
    check_display_name
);
validated_string!(
    /// `<country code>-<number>`, e.g. `86-18600008888`.
    MobilePhone,
    check_mobile_phone
);
validated_string!(
    /// An e-mail address.
    Email,
    check_email
);
validated_string!(
    /// Free text, at most 128 characters.
    Comments,
    check_comments
);

validated_string!(
    /// A certificate's name (CAS `Name`): 1–128 characters, no control
    /// characters. Unique per account, compared exactly.
    CertificateName,
    check_certificate_name
);

validated_string!(
    /// A RAM group name: 1–64 characters of `A–Z a–z 0–9 . _ -` (the
    /// current SDK documentation; the older error page allowed only
    /// letters, digits and `-`). Unique per account, compared ignoring
    /// ASCII case like user names.
    GroupName,
    check_group_name
);
validated_string!(
    /// A RAM policy name: 1–128 characters of `A–Z a–z 0–9 -`. Unique per
    /// account among custom policies, compared exactly.
    PolicyName,
    check_policy_name
);
validated_string!(
    /// A policy's description: at most 1024 characters.
    Description,
    check_description
);

fn check_group_name(v: &str) -> Result<(), Problem> {
    length_within(v, 64)?;
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Ok(())
    } else {
        Err(Problem::InvalidChars)
    }
}

fn check_policy_name(v: &str) -> Result<(), Problem> {
    length_within(v, 128)?;
    if v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err(Problem::InvalidChars)
    }
}

fn check_description(v: &str) -> Result<(), Problem> {
    if v.chars().count() > 1024 {
        Err(Problem::Length)
    } else {
        Ok(())
    }
}

impl GroupName {
    /// The key under which uniqueness is enforced.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn check_certificate_name(v: &str) -> Result<(), Problem> {
    length_within(v, 128)?;
    if v.chars().any(char::is_control) {
        Err(Problem::InvalidChars)
    } else {
        Ok(())
    }
}

fn length_within(value: &str, max: usize) -> Result<(), Problem> {
    let n = value.chars().count();
    if n == 0 || n > max {
        Err(Problem::Length)
    } else {
        Ok(())
    }
}

fn check_user_name(v: &str) -> Result<(), Problem> {
    length_within(v, 64)?;
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'_' | b'-'))
    {
        Ok(())
    } else {
        Err(Problem::InvalidChars)
    }
}

fn check_display_name(v: &str) -> Result<(), Problem> {
    length_within(v, 128)?;
    if v.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '\u{4e00}'..='\u{9fa5}')
    }) {
        Ok(())
    } else {
        Err(Problem::InvalidChars)
    }
}

fn check_mobile_phone(v: &str) -> Result<(), Problem> {
    let ok = v.split_once('-').is_some_and(|(cc, num)| {
        (1..=4).contains(&cc.len())
            && (4..=20).contains(&num.len())
            && cc.bytes().all(|b| b.is_ascii_digit())
            && num.bytes().all(|b| b.is_ascii_digit())
    });
    if ok { Ok(()) } else { Err(Problem::Format) }
}

fn check_email(v: &str) -> Result<(), Problem> {
    if v.chars().count() > 128 {
        return Err(Problem::Format);
    }
    let Some((local, domain)) = v.split_once('@') else {
        return Err(Problem::Format);
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'@' | b'"'
                        | b'('
                        | b')'
                        | b','
                        | b':'
                        | b';'
                        | b'<'
                        | b'>'
                        | b'['
                        | b'\\'
                        | b']'
                )
        });
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(Problem::Format)
    }
}

fn check_comments(v: &str) -> Result<(), Problem> {
    if v.chars().count() > 128 {
        Err(Problem::Length)
    } else {
        Ok(())
    }
}

impl UserName {
    /// The key under which uniqueness is enforced.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_rules() {
        let cases: &[(&str, Result<(), Problem>)] = &[
            ("alice", Ok(())),
            ("a", Ok(())),
            ("alice.smith@example.com", Ok(())),
            ("under_score-dash", Ok(())),
            (&"x".repeat(64), Ok(())),
            ("", Err(Problem::Length)),
            (&"x".repeat(65), Err(Problem::Length)),
            ("with space", Err(Problem::InvalidChars)),
            ("plus+sign", Err(Problem::InvalidChars)),
            ("张三", Err(Problem::InvalidChars)),
            ("semi;colon", Err(Problem::InvalidChars)),
            ("quote'", Err(Problem::InvalidChars)),
        ];
        for (v, want) in cases {
            assert_eq!(UserName::parse(v).map(|_| ()), *want, "{v:?}");
        }
    }

    #[test]
    fn display_name_rules() {
        let cases: &[(&str, Result<(), Problem>)] = &[
            ("AliceZhang", Ok(())),
            ("张三", Ok(())),
            ("Erin-E", Ok(())),
            ("a.b@c", Ok(())),
            (&"张".repeat(128), Ok(())),
            ("", Err(Problem::Length)),
            (&"张".repeat(129), Err(Problem::Length)),
            ("Alice Zhang", Err(Problem::InvalidChars)),
            ("under_score", Err(Problem::InvalidChars)),
            ("emoji😀", Err(Problem::InvalidChars)),
            ("龦", Err(Problem::InvalidChars)), // U+9FA6, just past the range
        ];
        for (v, want) in cases {
            assert_eq!(DisplayName::parse(v).map(|_| ()), *want, "{v:?}");
        }
    }

    #[test]
    fn mobile_phone_rules() {
        for ok in ["86-18600008888", "1-5551234", "8613-1234"] {
            assert!(MobilePhone::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "18600008888",
            "86-",
            "-1860000",
            "86-186",
            "12345-18600008888",
            "86-1860000888a",
            "+86-18600008888",
            "86-186-0000",
        ] {
            assert_eq!(MobilePhone::parse(bad), Err(Problem::Format), "{bad}");
        }
    }

    #[test]
    fn email_rules() {
        for ok in ["alice@example.com", "a.b+c@sub.example.org", "x@y.co"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a@b@c.com",
            "al ice@example.com",
            "alice@-ex.com",
            "alice@ex..com",
        ] {
            assert_eq!(Email::parse(bad), Err(Problem::Format), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(120));
        assert_eq!(Email::parse(&long), Err(Problem::Format));
    }

    #[test]
    fn comments_rules() {
        assert!(Comments::parse("").is_ok());
        assert!(Comments::parse(&"中".repeat(128)).is_ok());
        assert_eq!(Comments::parse(&"中".repeat(129)), Err(Problem::Length));
        assert!(
            Comments::parse("a&b=c%d!e'f(g)h*i~j k+l/m:n,o;p@q[r]s{t}u|v^w`x\"y<z>?#中文😀")
                .is_ok()
        );
    }

    #[test]
    fn folding_is_ascii_case_insensitive() {
        assert_eq!(
            UserName::parse("Alice").unwrap().folded(),
            UserName::parse("alice").unwrap().folded()
        );
    }
}
