// GPU model names: the public sources spell one model many ways ("Nvidia Geforce RTX 3060Ti",
// "GeForce RTX 3060 Ti", "NVIDIA RTX 3060 Ti", "RTX3060TI"). Every name is reduced to one key
// before sources are merged or a user's name is looked up. docs/data-formats.md lists the rules.
#pragma once

#include <string>
#include <string_view>

namespace rigshift {

enum class Vendor { kUnknown, kNvidia, kAmd };
// consumer: GeForce / Titan / Radeon RX (the class the NVIDIA GeForce license restricts);
// workstation: RTX A-series, Quadro, RTX Ada/PRO; datacenter: A100, H100, T4, V100, ...;
// mining: CMP HX, P10x-100, BC-250 (sold for mining, no display output);
// asic: a hash-only miner (Antminer, Whatsminer, Avalon): one algorithm, never AI.
enum class DeviceClass { kConsumer, kWorkstation, kDatacenter, kMining, kAsic };

std::string_view VendorName(Vendor v);
std::string_view DeviceClassName(DeviceClass c);
bool ParseDeviceClass(std::string_view text, DeviceClass* out);

// "Nvidia Geforce RTX 3060Ti" -> "RTX 3060 TI". Uppercase, vendor and brand words dropped,
// glued suffixes split. Two spellings of one model give the same key. ASIC miners too:
// "Bitmain Antminer S19 Pro" -> "S19 PRO", "AvalonMiner 1246" -> "AVALON 1246".
std::string ModelKey(std::string_view name);
// A readable name for a key: "RTX 3060 TI" -> "RTX 3060 Ti", "RX VEGA 64" -> "RX Vega 64".
std::string DisplayName(std::string_view key);
// True for names of ASIC miners that appear in GPU benchmark lists (Innosilicon, Linzhi, ...).
bool IsAsicName(std::string_view name);

Vendor VendorOf(std::string_view key);
DeviceClass ClassOf(std::string_view key);

}  // namespace rigshift
