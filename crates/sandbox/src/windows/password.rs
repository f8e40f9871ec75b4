//! Passwords for the sandbox users: 24 characters that meet the Windows
//! complexity rule (upper case, lower case, digit and symbol all present)
//! and that survive a command line unquoted, in `cmd.exe` as in PowerShell.
//!
//! The function is deterministic: the caller passes 32 random bytes (from
//! the OS generator), so the choice of characters is tested here and the
//! randomness is the OS's.

use sha2::{Digest, Sha256};

/// Characters in a generated password.
pub const PASSWORD_LEN: usize = 24;

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";
/// Symbols no shell or argument parser gives a meaning to: not `"`, `%`,
/// `^`, space, `!` (delayed expansion), `&|<>()` (cmd), `` ` ``, `$`, `'`
/// (PowerShell), `\` (escapes before a quote), `,;=` (cmd separators).
const SYMBOLS: &[u8] = b"#+-./:@_~";

/// A password made from `random`, which must be fresh random bytes.
///
/// One character of each class, then the rest from all classes, then a
/// shuffle; every choice is unbiased (rejection sampling over a SHA-256
/// stream keyed by `random`), so the password carries well over 128 bits.
///
/// ```
/// use cordon_sandbox::windows::password::generate_password;
///
/// let password = generate_password(&[7; 32]);
/// assert_eq!(password.len(), 24);
/// assert_eq!(password, generate_password(&[7; 32]));
/// ```
pub fn generate_password(random: &[u8; 32]) -> String {
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut stream = Stream::new(random);
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].iter().map(|class| stream.pick(class)).collect();
    while chars.len() < PASSWORD_LEN {
        chars.push(stream.pick(&all));
    }
    // Fisher-Yates, so the forced characters are not always first.
    for i in (1..chars.len()).rev() {
        let j = stream.below(i + 1);
        chars.swap(i, j);
    }
    chars.into_iter().map(char::from).collect()
}

/// A byte stream: SHA-256 of the seed and a block counter.
struct Stream<'a> {
    seed: &'a [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl<'a> Stream<'a> {
    fn new(seed: &'a [u8; 32]) -> Self {
        Stream { seed, counter: 0, block: [0; 32], used: 32 }
    }

    fn byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            let mut hasher = Sha256::new();
            hasher.update(b"cordon password");
            hasher.update(self.seed);
            hasher.update(self.counter.to_le_bytes());
            self.block = hasher.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }

    /// A uniform number in `0..n`, for `n` in `1..=256`.
    fn below(&mut self, n: usize) -> usize {
        let limit = 256 - 256 % n;
        loop {
            let b = usize::from(self.byte());
            if b < limit {
                return b % n;
            }
        }
    }

    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        alphabet[self.below(alphabet.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds() -> impl Iterator<Item = [u8; 32]> {
        (0u32..2000).map(|i| Sha256::digest(i.to_le_bytes()).into())
    }

    #[test]
    fn same_bytes_give_the_same_password() {
        let seed = [42; 32];
        assert_eq!(generate_password(&seed), generate_password(&seed));
    }

    #[test]
    fn different_bytes_give_different_passwords() {
        let passwords: std::collections::HashSet<String> = seeds().map(|s| generate_password(&s)).collect();
        assert_eq!(passwords.len(), 2000);
        assert_ne!(generate_password(&[0; 32]), generate_password(&[1; 32]));
    }

    #[test]
    fn every_password_meets_windows_complexity() {
        for seed in seeds().chain([[0; 32], [0xff; 32]]) {
            let password = generate_password(&seed);
            assert_eq!(password.chars().count(), PASSWORD_LEN, "{password}");
            assert!(password.bytes().any(|b| b.is_ascii_uppercase()), "{password}");
            assert!(password.bytes().any(|b| b.is_ascii_lowercase()), "{password}");
            assert!(password.bytes().any(|b| b.is_ascii_digit()), "{password}");
            assert!(password.bytes().any(|b| SYMBOLS.contains(&b)), "{password}");
        }
    }

    #[test]
    fn no_password_holds_a_character_that_breaks_a_command_line() {
        for seed in seeds() {
            let password = generate_password(&seed);
            for bad in ['"', '%', '^', ' ', '!', '&', '|', '<', '>', '`', '$', '\'', '\\', ','] {
                assert!(!password.contains(bad), "{password} has {bad:?}");
            }
            assert!(password.bytes().all(|b| b.is_ascii_graphic()), "{password}");
        }
    }

    #[test]
    fn forced_characters_do_not_stay_in_front() {
        let upper_first = seeds().filter(|s| generate_password(s).as_bytes()[0].is_ascii_uppercase()).count();
        // With the shuffle about 26/71 of the passwords start upper case.
        assert!(upper_first < 1200, "{upper_first} of 2000 start upper case");
    }
}
