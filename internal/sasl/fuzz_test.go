package sasl

import "testing"

// FuzzExchange feeds arbitrary responses to every mechanism: nothing
// panics and every exchange ends within a few steps.
func FuzzExchange(f *testing.F) {
	f.Add(uint8(0), []byte("\x00bob\x00pw"), []byte{}, []byte{})
	f.Add(uint8(1), []byte("bob"), []byte("pw"), []byte{})
	f.Add(uint8(2), negotiate(flagUnicode|flagNTLM), authenticate(flagUnicode, "D", "u", "w", nil, make([]byte, 30)), []byte{})
	f.Add(uint8(2), []byte{}, negotiate(flagOEM), authenticate(flagOEM, "", "u", "", make([]byte, 24), make([]byte, 24)))
	mechs := []string{Plain, Login, NTLM}
	f.Fuzz(func(t *testing.T, m uint8, a, b, c []byte) {
		x, err := Start(mechs[int(m)%len(mechs)], host, chal)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range [][]byte{a, b, c, nil, nil} {
			_, done, err := x.Next(r, i > 0 || len(a) > 0)
			if done || err != nil {
				_ = x.Credentials()
				return
			}
			if i >= 3 {
				t.Fatalf("%s still running after %d responses", x.Mechanism(), i+1)
			}
		}
	})
}

// FuzzParseAuthenticate: fields always come from within the message.
func FuzzParseAuthenticate(f *testing.F) {
	f.Add(authenticate(flagUnicode, "CORP", "bob", "WS1", make([]byte, 24), make([]byte, 48)))
	f.Add(authenticate(flagOEM, "", "x", "", nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAuthenticate(b)
		if err != nil {
			return
		}
		if len(a.LMResponse) > len(b) || len(a.NTResponse) > len(b) || len(a.User) > 2*len(b) {
			t.Fatal("a field larger than its message")
		}
		_ = a.Hashcat(chal)
	})
}
