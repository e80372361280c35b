// `iiptran lab export FILE --containerlab OUT [--image I] [--host ELEMENT=ADDRESS ...]`: the lab
// as a containerlab topology (src/lab/export-containerlab.ts). Needs no root: it only writes files.

import path from 'node:path';
import type { Argv } from 'yargs';
import { IiptranError } from '../errors.js';
import { loadTopology } from '../lab/topology.js';
import { buildModel } from '../lab/topology-model.js';
import { DEFAULT_IMAGE, exportContainerlab } from '../lab/export-containerlab.js';

interface ExportArgs {
  file: string;
  containerlab: string;
  image: string;
  host: string[] | undefined;
  json: boolean;
}

export function labExportBuilder(y: Argv): Argv<ExportArgs> {
  return y
    .positional('file', { type: 'string', demandOption: true, describe: 'topology YAML, as for lab up' })
    .option('containerlab', { type: 'string', demandOption: true, describe: 'output directory (new or empty): NAME.clab.yml and one directory per node, router and segment' })
    .option('image', { type: 'string', default: DEFAULT_IMAGE, describe: 'container image of every element (build it from the Dockerfile)' })
    .option('host', { type: 'string', array: true, describe: 'ELEMENT=ADDRESS: put ELEMENT on the container host ADDRESS (one topology file per host, VXLAN links between hosts); give one for every element' })
    .option('json', { type: 'boolean', default: false, describe: 'print {files, elements, links, vxlanLinks}' })
    .example('$0 lab export topologies/triangle.yaml --containerlab clab && cd clab && containerlab deploy -t triangle.clab.yml', 'the triangle in containers')
    .example('$0 lab export topologies/ring.yaml --containerlab ring --host a=192.0.2.10 --host b=192.0.2.10 ...', 'spread over container hosts') as unknown as Argv<ExportArgs>;
}

export async function labExport(a: ExportArgs): Promise<void> {
  const t = loadTopology(a.file);
  const hosts = new Map<string, string>();
  for (const h of a.host ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(h);
    if (m === null) throw new IiptranError('IIPTRAN_ERR_USAGE', `--host ${h}: expected ELEMENT=ADDRESS`);
    if (hosts.has(m[1]!)) throw new IiptranError('IIPTRAN_ERR_USAGE', `--host: ${m[1]} is given twice`);
    hosts.set(m[1]!, m[2]!);
  }
  const r = exportContainerlab(t, buildModel(t), { out: path.resolve(a.containerlab), image: a.image, hosts });
  if (a.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `wrote ${r.files.map((f) => path.relative(process.cwd(), f) || f).join(', ')}: ${r.elements} containers, ${r.links} links${r.vxlanLinks > 0 ? ` (${r.vxlanLinks} across hosts over VXLAN)` : ''}\n` +
      `next: build the image (Dockerfile), then in ${a.containerlab}: containerlab deploy -t ${path.basename(r.files[0]!)}\n`,
  );
}
