package noticestore_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clearsky/clearsky/libs/mongodb"
	"github.com/clearsky/clearsky/libs/testenv"
	"github.com/clearsky/clearsky/services/notify/internal/noticestore"
)

// TestIndexes: every declared index is built (twice is harmless) and listed.
func TestIndexes(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	s := noticestore.New(db)
	for range 2 {
		if err := s.EnsureIndexes(ctx, mongodb.AllIndexes); err != nil {
			t.Fatal(err)
		}
	}
	for _, ix := range noticestore.Indexes {
		cur, err := db.Collection(ix.Collection).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []bson.M
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, g := range got {
			found = found || g["name"] == ix.Name
		}
		if !found {
			t.Errorf("collection %s lacks index %s", ix.Collection, ix.Name)
		}
	}
}
