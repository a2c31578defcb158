// kstatus-check prints the kstatus verdict (sigs.k8s.io/cli-utils/pkg/kstatus/status)
// of Kubernetes objects, the way Flux and kpt read them.
//
//	kstatus-check FILE...   (JSON or YAML; several YAML documents per file allowed)
//
// One line per object: "<file>\t<kind>/<name>\t<status>\t<message>". Exit 0
// when every object was read, 2 on an unreadable input.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kstatus-check FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := checkFile(path); err != nil {
			fmt.Fprintf(os.Stderr, "kstatus-check: %s: %v\n", path, err)
			os.Exit(2)
		}
	}
}

func checkFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	n := 0
	for {
		doc, err := reader.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return err
		}
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s/%s: %v", u.GetKind(), u.GetName(), err)
		}
		fmt.Printf("%s\t%s/%s\t%s\t%s\n", path, u.GetKind(), u.GetName(), res.Status, res.Message)
		n++
	}
	if n == 0 {
		return errors.New("no objects")
	}
	return nil
}
