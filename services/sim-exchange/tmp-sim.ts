import { startSimExchange } from '/work/main/services/sim-exchange/src/sim-exchange.ts';
const sim = await startSimExchange({ port: 19100, speed: 60 });
console.log('sim', sim.httpUrl);
