//! Uploaded files sealed at rest, in pieces, so that neither storing nor serving a
//! large file holds it whole in memory.
//!
//! A sealed file is `FILE_MAGIC | key id (4) | nonce prefix (7)`, then chunks of
//! `length (u32, big-endian) | ciphertext and tag`, each sealing at most [`CHUNK`]
//! bytes. A chunk's nonce is the file's random prefix, the chunk's number (u32) and a
//! last-chunk flag (one byte), the online authenticated encryption of Hoang, Reyhanitabar,
//! Rogaway and Vizár ("STREAM"): chunks cannot be reordered, dropped or taken from
//! another file, and a file cut after any chunk fails because its last chunk lacks
//! the flag. A file without the magic is a plain one, stored before a key was set.

use super::{ID_LEN, Keyring, hex};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Nonce};
use std::io::{Read, Write};

/// Starts every sealed file (a record's magic is `\0SB\x01`; this one differs so the
/// two are never confused).
const FILE_MAGIC: &[u8; 4] = b"\0SBF";
const PREFIX_LEN: usize = 7;
const HEADER_LEN: usize = FILE_MAGIC.len() + ID_LEN + PREFIX_LEN;
/// Plain bytes per chunk.
pub(crate) const CHUNK: usize = 64 * 1024;
/// GCM's tag.
const TAG_LEN: usize = 16;

fn invalid(text: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, text)
}

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> Nonce<Aes256Gcm> {
    let mut bytes = [0u8; 12];
    bytes[..PREFIX_LEN].copy_from_slice(prefix);
    bytes[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    bytes[11] = u8::from(last);
    bytes.into()
}

/// Writes a file, sealed with a keyring's primary key or plain without one.
pub struct FileWriter<W: Write> {
    out: W,
    sealing: Option<Sealing>,
}

struct Sealing {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    pending: Vec<u8>,
}

impl<W: Write> FileWriter<W> {
    /// Starts a file on `out` (writing its header when sealed).
    pub fn new(mut out: W, keyring: Option<&Keyring>) -> std::io::Result<FileWriter<W>> {
        let Some(keyring) = keyring else {
            return Ok(FileWriter { out, sealing: None });
        };
        let mut prefix = [0u8; PREFIX_LEN];
        getrandom::fill(&mut prefix)
            .map_err(|e| std::io::Error::other(format!("the random source failed: {e}")))?;
        out.write_all(FILE_MAGIC)?;
        out.write_all(&keyring.primary.id)?;
        out.write_all(&prefix)?;
        Ok(FileWriter {
            out,
            sealing: Some(Sealing {
                cipher: keyring.primary.cipher.clone(),
                prefix,
                counter: 0,
                pending: Vec::with_capacity(2 * CHUNK),
            }),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(sealing) = &mut self.sealing else {
            return self.out.write_all(bytes);
        };
        sealing.pending.extend_from_slice(bytes);
        // A chunk is sealed once a byte follows it: only then is it known not to be last.
        while sealing.pending.len() > CHUNK {
            let rest = sealing.pending.split_off(CHUNK);
            let chunk = std::mem::replace(&mut sealing.pending, rest);
            sealing.emit(&mut self.out, &chunk, false)?;
        }
        Ok(())
    }

    /// Seals what is left as the last chunk; gives back the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some(sealing) = &mut self.sealing {
            let last = std::mem::take(&mut sealing.pending);
            sealing.emit(&mut self.out, &last, true)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl Sealing {
    fn emit(&mut self, out: &mut impl Write, plain: &[u8], last: bool) -> std::io::Result<()> {
        let nonce = nonce(&self.prefix, self.counter, last);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("the file is too large to seal"))?;
        let sealed = self
            .cipher
            .encrypt(&nonce, plain)
            .map_err(|_| std::io::Error::other("sealing a chunk failed"))?;
        out.write_all(&(sealed.len() as u32).to_be_bytes())?;
        out.write_all(&sealed)
    }
}

/// Reads a stored file back as its plain bytes, a piece at a time.
pub struct FileReader {
    input: Box<dyn Read + Send>,
    opening: Option<Opening>,
}

struct Opening {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    done: bool,
}

/// Whether the header `start` (the file's first bytes) names a key other than the
/// primary one, or is no sealed file at all: a file `reencrypt` seals again.
pub(crate) fn needs_resealing(start: &[u8], keyring: &Keyring) -> bool {
    !start.starts_with(FILE_MAGIC)
        || start.get(FILE_MAGIC.len()..FILE_MAGIC.len() + ID_LEN) != Some(&keyring.primary.id)
}

impl FileReader {
    /// Reads the header of `input`: a sealed file needs `keyring` to name its key.
    pub fn new(
        mut input: impl Read + Send + 'static,
        keyring: Option<&Keyring>,
    ) -> std::io::Result<FileReader> {
        let mut header = [0u8; HEADER_LEN];
        let got = read_up_to(&mut input, &mut header)?;
        if got < FILE_MAGIC.len() || &header[..FILE_MAGIC.len()] != FILE_MAGIC {
            // Plain: what was read is the file's start.
            let input = std::io::Cursor::new(header[..got].to_vec()).chain(input);
            return Ok(FileReader {
                input: Box::new(input),
                opening: None,
            });
        }
        if got < HEADER_LEN {
            return Err(invalid("the sealed file is cut short in its header".into()));
        }
        let id = &header[FILE_MAGIC.len()..FILE_MAGIC.len() + ID_LEN];
        let keyring = keyring.ok_or_else(|| {
            invalid("the file is encrypted and no encryption_key_file is configured".into())
        })?;
        let key = std::iter::once(&keyring.primary)
            .chain(&keyring.old)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                invalid(format!(
                    "the file is encrypted with a key that is not configured (key id {}); add \
                     that key file to encryption_old_key_files",
                    hex(id)
                ))
            })?;
        let mut prefix = [0u8; PREFIX_LEN];
        prefix.copy_from_slice(&header[FILE_MAGIC.len() + ID_LEN..]);
        Ok(FileReader {
            input: Box::new(input),
            opening: Some(Opening {
                cipher: key.cipher.clone(),
                prefix,
                counter: 0,
                done: false,
            }),
        })
    }
}

impl FileReader {
    /// The next piece of plain bytes; empty at the end.
    pub fn next_piece(&mut self, plain_piece: usize) -> std::io::Result<Vec<u8>> {
        let Some(opening) = &mut self.opening else {
            let mut buffer = vec![0u8; plain_piece];
            let n = read_up_to(&mut self.input, &mut buffer)?;
            buffer.truncate(n);
            return Ok(buffer);
        };
        if opening.done {
            return Ok(Vec::new());
        }
        let mut len = [0u8; 4];
        if read_up_to(&mut self.input, &mut len)? < len.len() {
            return Err(invalid("the sealed file is cut short".into()));
        }
        let len = u32::from_be_bytes(len) as usize;
        if !(TAG_LEN..=CHUNK + TAG_LEN).contains(&len) {
            return Err(invalid(format!(
                "a chunk of the sealed file claims {len} bytes"
            )));
        }
        let mut sealed = vec![0u8; len];
        if read_up_to(&mut self.input, &mut sealed)? < len {
            return Err(invalid("the sealed file is cut short".into()));
        }
        // The last chunk is the one that opens with the flag set.
        for last in [false, true] {
            let nonce = nonce(&opening.prefix, opening.counter, last);
            if let Ok(plain) = opening.cipher.decrypt(&nonce, sealed.as_slice()) {
                opening.counter = opening.counter.wrapping_add(1);
                opening.done = last;
                if last && read_up_to(&mut self.input, &mut [0u8; 1])? > 0 {
                    return Err(invalid(
                        "the sealed file goes on past its last chunk".into(),
                    ));
                }
                return Ok(plain);
            }
        }
        Err(invalid(
            "a chunk of the sealed file fails its authentication check (damaged or altered)".into(),
        ))
    }
}

/// Reads until `buffer` is full or the input ends; how many bytes were read.
fn read_up_to(input: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(keyring: Option<&Keyring>, plain: &[u8], piece: usize) -> Vec<u8> {
        let mut writer = FileWriter::new(Vec::new(), keyring).expect("writer");
        for part in plain.chunks(piece.max(1)) {
            writer.write(part).expect("write");
        }
        writer.finish().expect("finish")
    }

    fn opened(keyring: Option<&Keyring>, stored: Vec<u8>) -> std::io::Result<Vec<u8>> {
        let mut reader = FileReader::new(std::io::Cursor::new(stored), keyring)?;
        let mut all = Vec::new();
        loop {
            let piece = reader.next_piece(1000)?;
            if piece.is_empty() {
                return Ok(all);
            }
            all.extend(piece);
        }
    }

    #[test]
    fn files_round_trip_in_chunks_and_refuse_cuts_and_changes() {
        let keyring = Keyring::from_keys(&[4u8; 32], &[]);
        let plain: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        for len in [1, CHUNK, CHUNK + 1, plain.len()] {
            let stored = sealed(Some(&keyring), &plain[..len], 10_000);
            assert!(!stored.windows(64).any(|w| w == &plain[..64]));
            assert_eq!(opened(Some(&keyring), stored).expect("open"), &plain[..len]);
        }
        let stored = sealed(Some(&keyring), &plain, 4096);
        // Cut after the first chunk: every chunk left opens, but none is the last.
        let cut = HEADER_LEN + 4 + CHUNK + TAG_LEN;
        assert!(opened(Some(&keyring), stored[..cut].to_vec()).is_err());
        let mut altered = stored.clone();
        altered[HEADER_LEN + 10] ^= 1;
        assert!(opened(Some(&keyring), altered).is_err());
        let other = Keyring::from_keys(&[5u8; 32], &[]);
        let e = opened(Some(&other), stored.clone()).expect_err("other key");
        assert!(e.to_string().contains("encryption_old_key_files"), "{e}");
        assert!(opened(None, stored).is_err());
        // Plain files read as they are, with or without a key.
        assert_eq!(opened(Some(&keyring), plain.clone()).expect("plain"), plain);
        assert_eq!(opened(None, b"ab".to_vec()).expect("short"), b"ab");
    }
}
