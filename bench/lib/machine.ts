import { arch, cpus, platform, release, totalmem } from 'node:os'

export interface Machine {
  cpuModel: string
  cores: number
  memoryGiB: number
  platform: string
  arch: string
  node: string
  v8: string
  openssl: string
}

/** What the numbers were measured on; ratios are comparable across machines, absolute times are not. */
export function describeMachine(): Machine {
  const cpu = cpus()
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${release()}`,
    arch: arch(),
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl ?? 'unknown',
  }
}
