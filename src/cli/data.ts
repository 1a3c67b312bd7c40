// `graduate data fetch fashion-mnist`: download the official files into the cache.
import { Command } from 'commander';
import { fetchFashionMnist } from '../data/fetch.js';
import { ValueError } from '../errors.js';

export function dataCommand(): Command {
  const data = new Command('data').description('datasets');
  data
    .command('fetch')
    .description('download a dataset (fashion-mnist) into ~/.cache/graduate (or --dest)')
    .argument('<name>', 'fashion-mnist')
    .option('--dest <dir>', 'target directory')
    .option('--url <base>', 'base URL of the files (default: the official mirror, or $GRADUATE_FASHION_MNIST_URL)')
    .action(async (name: string, opts: { dest?: string; url?: string }) => {
      if (name !== 'fashion-mnist')
        throw new ValueError(`data fetch: unknown dataset '${name}' (available: fashion-mnist)`);
      const dir = await fetchFashionMnist({ dest: opts.dest, baseUrl: opts.url, log: (l) => console.log(l) });
      console.log(`fashion-mnist is in ${dir}`);
    });
  return data;
}
