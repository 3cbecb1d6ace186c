// libcni-go: runs a conflist through upstream libcni (Debian's golang-github-appc-cni-dev, v1.1.2),
// as a container runtime would. Tests use it to check that our plugins work with the real libcni,
// which re-marshals every result through its Go types before passing it on as prevResult.
//
//	libcni-go ADD|CHECK|DEL <conflist.json> <containerID> <netns> <ifname> <cacheDir> [capabilityArgs.json]
//
// CNI_PATH comes from the environment. ADD prints the final result in the list's version on
// stdout; a failure prints libcni's error on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) < 7 {
		fmt.Fprintln(os.Stderr, "usage: libcni-go ADD|CHECK|DEL <conflist.json> <containerID> <netns> <ifname> <cacheDir> [capabilityArgs.json]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(command, listFile string, rest []string) error {
	list, err := libcni.ConfListFromFile(listFile)
	if err != nil {
		return err
	}
	rt := &libcni.RuntimeConf{ContainerID: rest[0], NetNS: rest[1], IfName: rest[2]}
	if len(rest) > 4 {
		raw, err := os.ReadFile(rest[4])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &rt.CapabilityArgs); err != nil {
			return fmt.Errorf("capability args: %w", err)
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), rest[3], nil)
	ctx := context.Background()
	switch command {
	case "ADD":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		return result.Print()
	case "CHECK":
		return cni.CheckNetworkList(ctx, list, rt)
	case "DEL":
		return cni.DelNetworkList(ctx, list, rt)
	}
	return fmt.Errorf("unknown command %q", command)
}
