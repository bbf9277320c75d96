package gitops_test

import (
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

func armorPublicKey(w io.Writer, e *openpgp.Entity) (io.Writer, error) {
	aw, err := armor.Encode(w, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.Serialize(aw); err != nil {
		return nil, err
	}
	return w, aw.Close()
}
