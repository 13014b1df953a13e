use std::hint::black_box;
use std::time::Instant;
use trustdesk_auth::{Params, v1};

fn main() {
    let raw = "UserName=alice&DisplayName=AliceZhang&MobilePhone=86-18600008888&Email=alice%40example.com&Comments=a%20b%2Ac~d%2Fe%2Bf&Version=2015-05-01&Action=CreateUser&Format=JSON&RegionId=cn-hangzhou&Timestamp=2026-11-22T20%3A50%3A02Z&SignatureMethod=HMAC-SHA1&SignatureType=&SignatureVersion=1.0&SignatureNonce=7032266f59142d9c9daaeb3a1ee73e3a&AccessKeyId=testid&Signature=egboZAfdCLV1x%2FrrL%2FNp7gcbiaY%3D";
    let n = 200_000;
    for round in 0..3 {
        let start = Instant::now();
        for _ in 0..n {
            let p = Params::parse_form(black_box(raw.as_bytes())).unwrap();
            let sts = v1::string_to_sign("POST", &p);
            assert!(v1::verify("testsecret", &sts, p.get("Signature").unwrap()));
        }
        let full = start.elapsed() / n;
        let p = Params::parse_form(raw.as_bytes()).unwrap();
        let start = Instant::now();
        for _ in 0..n { black_box(Params::parse_form(black_box(raw.as_bytes())).unwrap()); }
        let parse = start.elapsed() / n;
        let start = Instant::now();
        for _ in 0..n { black_box(v1::string_to_sign("POST", black_box(&p))); }
        let sts_t = start.elapsed() / n;
        let sts = v1::string_to_sign("POST", &p);
        let start = Instant::now();
        for _ in 0..n { black_box(v1::verify("testsecret", black_box(&sts), "egboZAfdCLV1x/rrL/Np7gcbiaY=")); }
        let ver = start.elapsed() / n;
        println!("round {round}: full {full:?} parse {parse:?} sts {sts_t:?} hmac+cmp {ver:?}");
    }
}
