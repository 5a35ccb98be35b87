//! Compressed bodies of the data endpoints (`POST /v1/models/{model}/records` and `/labels`):
//! `Content-Encoding: gzip` or `zstd`, as pipelines send large batches. The compressed body is
//! held to `http.max_ingest_bytes` like any body, and so is what it expands to: decoding stops
//! at the limit, so a small body that would expand without end is refused after reading at
//! most one byte past it.

use std::io::Read as _;

use axum::http::{HeaderMap, header};

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

/// Why a body cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error(
        "the {0} body expands to more than {1} bytes (http.max_ingest_bytes); send smaller batches"
    )]
    TooLarge(&'static str, usize),
    #[error("the body is not valid {0}")]
    Malformed(&'static str),
}

impl Encoding {
    /// The body's encoding from `Content-Encoding`, or why it is not accepted.
    pub fn of(headers: &HeaderMap) -> Result<Self, String> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        match value.to_str().map(|v| v.trim().to_ascii_lowercase()) {
            Ok(v) if v.is_empty() || v == "identity" => Ok(Encoding::Identity),
            Ok(v) if v == "gzip" || v == "x-gzip" => Ok(Encoding::Gzip),
            Ok(v) if v == "zstd" => Ok(Encoding::Zstd),
            _ => Err("Content-Encoding is not accepted; send gzip, zstd or none".into()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }

    /// The decoded body, at most `limit` bytes.
    pub fn decode(self, body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let mut reader: Box<dyn std::io::Read + '_> = match self {
            Encoding::Identity => return Ok(body.to_vec()),
            Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
            Encoding::Zstd => Box::new(
                zstd::stream::read::Decoder::new(body)
                    .map_err(|_| DecodeError::Malformed(self.name()))?,
            ),
        };
        let mut out = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        (&mut reader)
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|_| DecodeError::Malformed(self.name()))?;
        if out.len() > limit {
            return Err(DecodeError::TooLarge(self.name(), limit));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_zstd_round_trip_within_the_limit() {
        let data = b"id,label\nr1,1\n".repeat(100);
        assert_eq!(Encoding::Gzip.decode(&gzip(&data), 10_000).unwrap(), data);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(Encoding::Zstd.decode(&z, 10_000).unwrap(), data);
        assert_eq!(Encoding::Identity.decode(&data, 10_000).unwrap(), data);
    }

    #[test]
    fn expansion_past_the_limit_and_garbage_are_refused() {
        // 10 MB of zeros compress to about 10 kB.
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            Encoding::Gzip.decode(&bomb, 1 << 20),
            Err(DecodeError::TooLarge("gzip", 1 << 20))
        );
        assert_eq!(
            Encoding::Zstd.decode(b"not zstd at all", 100),
            Err(DecodeError::Malformed("zstd"))
        );
        assert_eq!(
            Encoding::Gzip.decode(b"not gzip", 100),
            Err(DecodeError::Malformed("gzip"))
        );
    }

    #[test]
    fn only_known_encodings_are_accepted() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_ENCODING, v.parse().unwrap());
            Encoding::of(&h)
        };
        assert_eq!(Encoding::of(&HeaderMap::new()), Ok(Encoding::Identity));
        assert_eq!(with("GZIP"), Ok(Encoding::Gzip));
        assert_eq!(with("zstd"), Ok(Encoding::Zstd));
        assert!(with("br").is_err());
        assert!(with("gzip, zstd").is_err());
    }
}
