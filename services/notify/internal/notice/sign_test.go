package notice

import "testing"

// TestSignMatchesTheSpecification: the Standard Webhooks specification's own test vector.
func TestSignMatchesTheSpecification(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if _, err := Sign("whsec_not base64!", "id", 1, nil); err == nil {
		t.Fatal("a secret that is not base64 signed")
	}
	if s := NewSecret(); len(s) != len(SecretPrefix)+44 || s[:6] != SecretPrefix {
		t.Fatalf("NewSecret = %q", s)
	}
}
