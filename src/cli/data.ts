// `graduate data fetch fashion-mnist|fsdd`: download a dataset into the cache (or --dest).
import { Command } from 'commander';
import { fetchFashionMnist } from '../data/fetch.js';
import { fetchFsdd } from '../data/fetch-fsdd.js';
import { ValueError } from '../errors.js';

export function dataCommand(): Command {
  const data = new Command('data').description('datasets');
  data
    .command('fetch')
    .description('download a dataset (fashion-mnist, fsdd) into ~/.cache/graduate (or --dest)')
    .argument('<name>', 'fashion-mnist or fsdd')
    .option('--dest <dir>', 'target directory')
    .option(
      '--url <url>',
      'fashion-mnist: base URL of the files (default: the official mirror, or $GRADUATE_FASHION_MNIST_URL); fsdd: the archive (default: the upstream v1.0.9 release, or $GRADUATE_FSDD_URL)',
    )
    .option('--sha256 <hex>', 'fsdd: the SHA-256 the archive must have (default: the upstream release archive’s)')
    .option('--archive <file>', 'fsdd: a local copy of the archive instead of a download')
    .action(async (name: string, opts: { dest?: string; url?: string; sha256?: string; archive?: string }) => {
      const log = (l: string) => console.log(l);
      if (name === 'fsdd') {
        const dir = await fetchFsdd({
          dest: opts.dest,
          url: opts.url,
          sha256: opts.sha256,
          archive: opts.archive,
          log,
        });
        console.log(`fsdd is in ${dir}`);
        return;
      }
      if (name !== 'fashion-mnist')
        throw new ValueError(`data fetch: unknown dataset '${name}' (available: fashion-mnist, fsdd)`);
      if (opts.sha256 || opts.archive)
        throw new ValueError('data fetch fashion-mnist: --sha256 and --archive are for fsdd');
      const dir = await fetchFashionMnist({ dest: opts.dest, baseUrl: opts.url, log });
      console.log(`fashion-mnist is in ${dir}`);
    });
  return data;
}
